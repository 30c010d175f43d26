import * as tf from '@tensorflow/tfjs-core';
import { directMatMulIsFast } from './matMulRouting';

// The node build of @tensorflow/tfjs-core registers no kernel gradients (the
// union package @tensorflow/tfjs does that from ESM files node cannot load), so
// tf.grad would fail on every op. We register our own for the kernels the
// training stack uses. Gradients stay on plain ops; matMul gradients use
// materialised transposes and non-transposed products, the fast path on wasm.

type Attrs = Record<string, unknown>;

/** Sum a broadcast gradient back down to `shape`. */
function unbroadcast(dy: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.broadcast_util.getReductionAxes(shape, dy.shape);
  const reduced = axes.length > 0 ? tf.sum(dy, axes) : dy;
  return tf.reshape(reduced, shape);
}

/** Float zeros shaped like `x`: the gradient of a piecewise-constant op. */
function zerosFor(x: tf.Tensor): tf.Tensor {
  return tf.zeros(x.shape, 'float32');
}

/** Swap the last two axes (materialised). */
function swapLast(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = x.rank;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(x, perm);
}

/** A new float32 handle: the tape disposes accumulated gradients, so never hand back `dy` itself. */
function asFloat(x: tf.Tensor): tf.Tensor {
  return x.dtype === 'float32' ? x.clone() : tf.cast(x, 'float32');
}

function keepDimsShape(shape: number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function unary(
  kernelName: string,
  f: (dy: tf.Tensor, x: tf.Tensor, y: tf.Tensor, attrs: Attrs) => tf.Tensor,
  saveOutput = false,
): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    outputsToSave: [saveOutput],
    gradFunc: (dy, saved, attrs) => ({
      x: () => f(dy as tf.Tensor, saved[0], saved[1], attrs as Attrs),
    }),
  };
}

function binary(
  kernelName: string,
  fa: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  fb: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const g = dy as tf.Tensor;
      return {
        a: () => unbroadcast(fa(g, a, b), a.shape),
        b: () => unbroadcast(fb(g, a, b), b.shape),
      };
    },
  };
}

function piecewiseConstant(kernelName: string, inputs: string[]): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: inputs,
    gradFunc: (_dy, saved) =>
      Object.fromEntries(inputs.map((name, i) => [name, () => zerosFor(saved[i])])),
  };
}

function reduceAxes(attrs: Attrs, key: string, x: tf.Tensor): number[] {
  return tf.util.parseAxisParam(attrs[key] as number | number[], x.shape);
}

const configs: tf.GradConfig[] = [
  // element-wise unary
  unary('Abs', (dy, x) => tf.mul(dy, tf.sign(x))),
  unary('Exp', (dy, _x, y) => tf.mul(dy, y), true),
  unary('Expm1', (dy, x) => tf.mul(dy, tf.exp(x))),
  unary('Log', (dy, x) => tf.div(dy, x)),
  unary('Log1p', (dy, x) => tf.div(dy, tf.add(x, 1))),
  unary('Neg', (dy) => tf.neg(dy)),
  unary('Sqrt', (dy, x) => tf.div(dy, tf.mul(tf.sqrt(x), 2))),
  unary('Rsqrt', (dy, x) => tf.mul(dy, tf.mul(tf.div(tf.rsqrt(x), x), -0.5))),
  unary('Square', (dy, x) => tf.mul(dy, tf.mul(x, 2))),
  unary('Reciprocal', (dy, x) => tf.neg(tf.div(dy, tf.square(x)))),
  unary('Sigmoid', (dy, _x, y) => tf.mul(dy, tf.mul(y, tf.sub(1, y))), true),
  unary('Tanh', (dy, _x, y) => tf.mul(dy, tf.sub(1, tf.square(y))), true),
  unary('Softplus', (dy, x) => tf.mul(dy, tf.sigmoid(x))),
  unary('Relu', (dy, x) => tf.mul(dy, tf.cast(tf.greater(x, 0), 'float32'))),
  unary('Sin', (dy, x) => tf.mul(dy, tf.cos(x))),
  unary('Cos', (dy, x) => tf.neg(tf.mul(dy, tf.sin(x)))),
  unary('Erf', (dy, x) => tf.mul(dy, tf.mul(tf.exp(tf.neg(tf.square(x))), 2 / Math.sqrt(Math.PI)))),
  unary(
    'Elu',
    (dy, _x, y) => tf.mul(dy, tf.where(tf.less(y, 0), tf.add(y, 1), tf.onesLike(y))),
    true,
  ),
  unary('LeakyRelu', (dy, x, _y, attrs) =>
    tf.mul(
      dy,
      tf.where(tf.greater(x, 0), tf.onesLike(x), tf.fill(x.shape, attrs['alpha'] as number)),
    ),
  ),
  unary('Cast', (dy) => asFloat(dy)),
  unary('Identity', (dy) => asFloat(dy)),
  unary('ClipByValue', (dy, x, _y, attrs) =>
    tf.where(
      tf.logicalAnd(
        tf.greaterEqual(x, attrs['clipValueMin'] as number),
        tf.lessEqual(x, attrs['clipValueMax'] as number),
      ),
      dy,
      tf.zerosLike(dy),
    ),
  ),
  unary('Cumsum', (dy, _x, _y, attrs) =>
    tf.cumsum(
      dy,
      attrs['axis'] as number,
      attrs['exclusive'] as boolean,
      !(attrs['reverse'] as boolean),
    ),
  ),
  ...[
    'Floor',
    'Ceil',
    'Round',
    'Sign',
    'Step',
    'IsNan',
    'IsFinite',
    'IsInf',
    'LogicalNot',
    'ZerosLike',
    'OnesLike',
    'ArgMax',
    'ArgMin',
    'Any',
    'All',
  ].map((k) => piecewiseConstant(k, ['x'])),
  ...[
    'Equal',
    'NotEqual',
    'Greater',
    'GreaterEqual',
    'Less',
    'LessEqual',
    'LogicalAnd',
    'LogicalOr',
    'FloorDiv',
  ].map((k) => piecewiseConstant(k, ['a', 'b'])),
  piecewiseConstant('OneHot', ['indices']),

  // element-wise binary with broadcasting
  binary(
    'Add',
    (dy) => dy,
    (dy) => dy,
  ),
  binary(
    'Sub',
    (dy) => dy,
    (dy) => tf.neg(dy),
  ),
  binary(
    'Multiply',
    (dy, _a, b) => tf.mul(dy, b),
    (dy, a) => tf.mul(dy, a),
  ),
  binary(
    'RealDiv',
    (dy, _a, b) => tf.div(dy, b),
    (dy, a, b) => tf.neg(tf.div(tf.mul(dy, a), tf.square(b))),
  ),
  binary(
    'Maximum',
    (dy, a, b) => tf.mul(dy, tf.cast(tf.greaterEqual(a, b), 'float32')),
    (dy, a, b) => tf.mul(dy, tf.cast(tf.less(a, b), 'float32')),
  ),
  binary(
    'Minimum',
    (dy, a, b) => tf.mul(dy, tf.cast(tf.lessEqual(a, b), 'float32')),
    (dy, a, b) => tf.mul(dy, tf.cast(tf.greater(a, b), 'float32')),
  ),
  binary(
    'SquaredDifference',
    (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(a, b), 2)),
    (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(b, a), 2)),
  ),
  binary(
    'Pow',
    (dy, a, b) => tf.mul(dy, tf.mul(b, tf.pow(a, tf.sub(b, 1)))),
    // d/db a^b = a^b·ln a, defined as 0 where a ≤ 0
    (dy, a, b) => {
      const pos = tf.greater(a, 0);
      const lnA = tf.where(pos, tf.log(tf.where(pos, a, tf.onesLike(a))), tf.zerosLike(a));
      return tf.mul(dy, tf.mul(tf.pow(a, b), lnA));
    },
  ),
  {
    kernelName: 'Mod',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      return {
        a: () => unbroadcast(dy as tf.Tensor, a.shape),
        b: () => unbroadcast(tf.mul(dy as tf.Tensor, tf.neg(tf.floor(tf.div(a, b)))), b.shape),
      };
    },
  },
  {
    kernelName: 'AddN',
    saveAllInputs: true,
    gradFunc: (dy, saved) =>
      Object.fromEntries(saved.map((_, i) => [String(i), () => asFloat(dy as tf.Tensor)])),
  },
  {
    kernelName: 'Select',
    inputsToSave: ['condition'],
    gradFunc: (dy, saved) => {
      const [c] = saved;
      const g = dy as tf.Tensor;
      return {
        condition: () => zerosFor(c),
        t: () => tf.where(c, g, tf.zerosLike(g)),
        e: () => tf.where(c, tf.zerosLike(g), g),
      };
    },
  },

  // reductions
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = reduceAxes(attrs as Attrs, 'axis', x);
      return {
        x: () =>
          tf.mul(tf.reshape(dy as tf.Tensor, keepDimsShape(x.shape, axes)), tf.ones(x.shape)),
      };
    },
  },
  {
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = reduceAxes(attrs as Attrs, 'axis', x);
      const count = axes.reduce((n, a) => n * x.shape[a], 1);
      return {
        x: () =>
          tf.div(
            tf.mul(tf.reshape(dy as tf.Tensor, keepDimsShape(x.shape, axes)), tf.ones(x.shape)),
            count,
          ),
      };
    },
  },
  ...['Max', 'Min'].map((kernelName): tf.GradConfig => ({
    kernelName,
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, y] = saved;
      const axes = reduceAxes(
        attrs as Attrs,
        kernelName === 'Max' ? 'reductionIndices' : 'axis',
        x,
      );
      const keep = keepDimsShape(x.shape, axes);
      // ties share the full gradient, as in TensorFlow
      return {
        x: () =>
          tf.mul(
            tf.reshape(dy as tf.Tensor, keep),
            tf.cast(tf.equal(x, tf.reshape(y, keep)), 'float32'),
          ),
      };
    },
  })),

  // shape and layout
  {
    kernelName: 'Reshape',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.reshape(dy as tf.Tensor, saved[0].shape) }),
  },
  {
    kernelName: 'ExpandDims',
    inputsToSave: ['input'],
    gradFunc: (dy, saved) => ({ input: () => tf.reshape(dy as tf.Tensor, saved[0].shape) }),
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _saved, attrs) => {
      const perm = (attrs as Attrs)['perm'] as number[];
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => (inv[p] = i));
      return { x: () => tf.transpose(dy as tf.Tensor, inv) };
    },
  },
  {
    kernelName: 'Concat',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const axis = tf.util.parseAxisParam((attrs as Attrs)['axis'] as number, saved[0].shape)[0];
      const parts = tf.split(
        dy as tf.Tensor,
        saved.map((t) => t.shape[axis]),
        axis,
      );
      return Object.fromEntries(parts.map((p, i) => [String(i), () => p]));
    },
  },
  {
    kernelName: 'SplitV',
    gradFunc: (dy, _saved, attrs) => ({
      x: () =>
        tf.concat(
          dy as tf.Tensor[],
          tf.util.parseAxisParam(
            (attrs as Attrs)['axis'] as number,
            (dy as tf.Tensor[])[0].shape,
          )[0],
        ),
    }),
  },
  {
    kernelName: 'Pack',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const parts = tf.unstack(dy as tf.Tensor, (attrs as Attrs)['axis'] as number);
      return Object.fromEntries(saved.map((_, i) => [String(i), () => parts[i]]));
    },
  },
  {
    kernelName: 'Unpack',
    gradFunc: (dy, _saved, attrs) => ({
      value: () => tf.stack(dy as tf.Tensor[], (attrs as Attrs)['axis'] as number),
    }),
  },
  {
    kernelName: 'Slice',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const a = attrs as Attrs;
      const [begin, size] = tf.slice_util.parseSliceParams(
        x,
        a['begin'] as number[],
        a['size'] as number[],
      );
      const pads = x.shape.map((d, i) => [begin[i], d - begin[i] - size[i]] as [number, number]);
      return { x: () => tf.pad(dy as tf.Tensor, pads) };
    },
  },
  {
    kernelName: 'PadV2',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const pads = (attrs as Attrs)['paddings'] as Array<[number, number]>;
      return {
        x: () =>
          tf.slice(
            dy as tf.Tensor,
            pads.map((p) => p[0]),
            x.shape,
          ),
      };
    },
  },
  {
    kernelName: 'Tile',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const reps = (attrs as Attrs)['reps'] as number[];
      // view dy as [r0, s0, r1, s1, ...] and sum the repeat axes
      const split = x.shape.flatMap((d, i) => [reps[i], d]);
      const repAxes = x.shape.map((_, i) => 2 * i);
      return { x: () => tf.reshape(tf.sum(tf.reshape(dy as tf.Tensor, split), repAxes), x.shape) };
    },
  },
  {
    kernelName: 'GatherV2',
    inputsToSave: ['x', 'indices'],
    gradFunc: (dy, saved, attrs) => {
      const [x, indices] = saved;
      const a = attrs as Attrs;
      if (((a['batchDims'] as number | undefined) ?? 0) !== 0) {
        throw new Error('gather gradient: batchDims other than 0 is not supported');
      }
      const axis = tf.util.parseAxisParam(a['axis'] as number, x.shape)[0];
      return {
        x: () => {
          // scatter-add instead of UnsortedSegmentSum (which wasm lacks)
          const pre = x.shape.slice(0, axis).reduce((p, d) => p * d, 1);
          const post = x.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
          const n = indices.size;
          const g = tf.reshape(
            tf.transpose(tf.reshape(dy as tf.Tensor, [pre, n, post]), [1, 0, 2]),
            [n, pre * post],
          );
          const idx = tf.reshape(tf.cast(indices, 'int32'), [n, 1]);
          const dense = tf.reshape(tf.scatterND(idx, g, [x.shape[axis], pre * post]), [
            x.shape[axis],
            pre,
            post,
          ]);
          return tf.reshape(tf.transpose(dense, [1, 0, 2]), x.shape);
        },
        indices: () => zerosFor(indices),
      };
    },
  },

  // matMul and softmax
  {
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const g = dy as tf.Tensor;
      const tA = (attrs as Attrs)['transposeA'] as boolean;
      const tB = (attrs as Attrs)['transposeB'] as boolean;
      const mm = (x: tf.Tensor, y: tf.Tensor): tf.Tensor =>
        tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D);
      if (directMatMulIsFast()) {
        // transposed products cost the same as plain ones here: no copies
        const mmT = (x: tf.Tensor, y: tf.Tensor, ta: boolean, tb: boolean): tf.Tensor =>
          tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, ta, tb);
        const [dA, dB] =
          !tA && !tB
            ? [() => mmT(g, b, false, true), () => mmT(a, g, true, false)]
            : !tA && tB
              ? [() => mmT(g, b, false, false), () => mmT(g, a, true, false)]
              : tA && !tB
                ? [() => mmT(b, g, false, true), () => mmT(a, g, false, false)]
                : [() => mmT(b, g, true, true), () => mmT(g, a, true, true)];
        return { a: () => unbroadcast(dA(), a.shape), b: () => unbroadcast(dB(), b.shape) };
      }
      // transposes are materialised so each product is a plain (XNNPACK) matMul
      let da: () => tf.Tensor;
      let db: () => tf.Tensor;
      if (!tA && !tB) {
        da = () => mm(g, swapLast(b));
        db = () => mm(swapLast(a), g);
      } else if (!tA && tB) {
        da = () => mm(g, b);
        db = () => mm(swapLast(g), a);
      } else if (tA && !tB) {
        da = () => mm(b, swapLast(g));
        db = () => mm(a, g);
      } else {
        da = () => mm(swapLast(b), swapLast(g));
        db = () => mm(swapLast(g), swapLast(a));
      }
      return { a: () => unbroadcast(da(), a.shape), b: () => unbroadcast(db(), b.shape) };
    },
  },
  {
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [y] = saved;
      const dim = ((attrs as Attrs)['dim'] as number | undefined) ?? -1;
      const g = dy as tf.Tensor;
      return { logits: () => tf.mul(y, tf.sub(g, tf.sum(tf.mul(g, y), dim, true))) };
    },
  },
];

for (const config of configs) {
  // a native backend or @tensorflow/tfjs may already have registered its own
  if (tf.getGradient(config.kernelName) == null) tf.registerGradient(config);
}
