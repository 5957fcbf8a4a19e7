/**
 * btkit's public API: the shared vocabulary (errors, descriptor, locations). Stages are loaded
 * from their subpaths so an ETL job loads only what it uses: btkit/prepare, btkit/submit,
 * btkit/join, btkit/emulator.
 */
export { BtkitError, ERROR_CODES, EXIT, isBtkitError, redact, type ErrorCode, type ErrorContext, type ExitKind } from "./errors.js";
export {
  PROTOCOL_VERSION,
  parseDescriptor,
  serializeDescriptor,
  validateDescriptor,
  type ColumnRole,
  type ColumnSpec,
  type ColumnType,
  type Descriptor,
  type JobRecord,
  type JobSection,
  type JobStatus,
  type ManifestSection,
  type ModelInputSection,
  type ResultColumn,
  type ResultsSection,
  type ShardEntry,
  type SourceSection,
} from "./protocol/descriptor.js";
export { LAYOUT, SIDECAR_ROW_COLUMN, outputNameFor } from "./protocol/layout.js";
export { Storage, parseLocation, formatLocation, type Location, type S3Settings, type StorageOptions, type WriteResult } from "./io/index.js";
export { VERSION } from "./version.js";
