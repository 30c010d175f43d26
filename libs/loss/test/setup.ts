// tfjs-core registers op gradients only through this side-effect module (the
// union `@tensorflow/tfjs` package imports it); vitest transforms its ESM.
// Applications get it from whoever owns the backend setup (see README).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
