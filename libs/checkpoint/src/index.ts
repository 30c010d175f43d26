export {
  CheckpointManager,
  type CheckpointContent,
  type CheckpointFileData,
  type CheckpointInfo,
  type CheckpointManifest,
} from './checkpointManager';
export { checkpointingSchema, type CheckpointingOptions } from './checkpointOptions';
