/**
 * btkit/prepare: raw tables to model-ready shards, sidecars, a SageMaker ManifestFile and the
 * descriptor. `prepare()` is the high-level entry; the pieces it is built from are exported for
 * ETL code that wants to compose its own pipeline.
 */
export { prepare } from "./prepare.js";
export { resolvePrepareOptions, type PrepareOptions, type PrepareProgress, type ResolvedPrepareOptions } from "./options.js";
export { CsvScanner, detectDelimiter, DELIMITER_CANDIDATES, FIELD, RawRecords, type CsvRecord, type CsvScannerOptions } from "./csv-scanner.js";
export { JsonlScanner, parseObjectLine, KIND, type JsonRecord, type JsonlScannerOptions, type Kind } from "./jsonl-scanner.js";
export { makeCsvEncoder, makeJsonlEncoder, jsonValue, type NewlinePolicy } from "./encode.js";
export { inferTypes, fits, typeOfValue, parseSchemaOverride, timestampMicros } from "./schema.js";
export { parallelGzip, type ParallelGzipOptions } from "./gzip.js";
export { ShardWriter, Channel, type ShardWriterOptions, type ShardWritten } from "./shard-writer.js";
export { SidecarBatcher, sidecarSchema, arrowType, columnData } from "./sidecar.js";
export { resolveInputs, openInput, type ResolvedInput, type ReadableFormat } from "./inputs.js";
export { ENCODINGS, toUtf8, type Encoding } from "./encoding.js";
export { merge, type MergeOptions } from "./merge.js";
export { partNames, PARTS_DIR } from "../protocol/layout.js";
