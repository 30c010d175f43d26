export {
  CheckpointManager,
  type CheckpointContent,
  type CheckpointInfo,
  type CheckpointManifest,
} from './checkpointManager';
export { checkpointingSchema, type CheckpointingOptions } from './checkpointOptions';
