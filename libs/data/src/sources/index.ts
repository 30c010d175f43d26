export type { DataRow, RowLocation, InvalidRow, InvalidReason } from './row';
export { describeLocation, rowError, isInvalid } from './row';
export { dataCursorSchema, type DataCursor } from './cursor';
export { SkipStats } from './skipStats';
export { checkFields, type FieldSpec, type FieldType } from './fields';
export type { BlockReader } from './blockReader';
export { openJsonl, type JsonlOptions } from './jsonl';
export { openParquet, type ParquetOptions } from './parquet';
export { openArrowIpc } from './arrowIpc';
export { fromRows, type MemoryOptions } from './memory';
export { fromArrow } from './arrowTable';
export {
  openSource,
  SOURCE_FORMATS,
  type SourceFormat,
  type OpenSourceOptions,
} from './openSource';
export { readRows, readRowsOptionsSchema, epochOrder, type ReadRowsOptions } from './readRows';
export { readSource } from './readSource';
export { batchRows, type RowBatch } from './batchRows';
export {
  rowsToRecordBatch,
  toRecordBatches,
  batchCursor,
  CURSOR_METADATA_KEY,
} from './rowsToRecordBatch';
export { arrowRowsAt } from './arrowRows';
export { locateErrors, mapRows, type MapRowsOptions } from './mapRows';
