/**
 * btkit/join: match .out files back to their rows and write Arrow, Parquet, JSON Lines or CSV.
 *
 * join(options) does the whole join of a descriptor into a file; joinRows(descriptor, options)
 * yields the same joined Arrow record batches, checked the same way, to a consumer of your own;
 * joinFiles(options) pairs input files with their .out without a descriptor. The stages are
 * exported for ETL code: createAligner (sidecar + .out -> joined record batches),
 * PredictionParser (.out lines -> typed columns), FeatureParser, createWriter (record batches ->
 * file bytes), LineReader and scanLines.
 *
 * Decisions (each one explicit, counted or an error; never a silent shift):
 * - Lines end at "\n" only; a bare "\r" stays in its line. One "\r" before "\n" is stripped and
 *   counted (results.notes). A last line without "\n" is a line; a final "\n" ends the file.
 * - A blank .out line is an error (JOIN_BLANK_LINE, or named in JOIN_COUNT_MISMATCH) unless
 *   blankLines is "skip", which drops blank lines, counts them, and still reports physical line
 *   numbers. Every .out is counted before anything is written.
 * - An empty shard (0 rows) needs an empty .out (0 lines); it adds no rows, and in partitioned
 *   output it still gets a file with the columns.
 * - Joined columns: the sidecar's keep columns (schema order, their types), __btkit_row with
 *   rowNumber, the feature columns with withFeatures (those not kept), then the predictions.
 * - results (descriptor) records, besides where the rows went: columns [{name, type}] of the
 *   joined table and notes [{reason, count}] for every normalization.
 * - --part i/N takes the i-th (0-based) of N contiguous slices of the shards; one-file output is
 *   then <out>/part-<i>of<N>.<ext>; either way the part writes btkit-part-<i>of<N>.json (its descriptor
 *   with its results) last, and combinePartResults makes the whole join's results of the N.
 */
export { join, joinRows, type JoinOptions, type JoinProgress, type JoinResult, type JoinRowsOptions, type JoinSummary } from "./join.js";
export { createAligner, resolveAlignerOptions, type AlignerOptions, type ResolvedAlignerOptions, type JoinedBatch, type ShardInput, type ShardStats } from "./aligner.js";
export { EchoSplitter, hasEcho, sameJson, type EchoLayout } from "./echo.js";
export { PredictionParser, WidenToFloat64, resolvePredictionParserOptions, sniff, PREDICTION_FORMATS, type PredictionFormat, type PredictionParserOptions, type ResolvedPredictionParserOptions, type BatchSource } from "./predictions.js";
export { createWriter, resolveWriterOptions, isoMicros, OUTPUT_FORMATS, PARQUET_COMPRESSIONS, EXTENSION_OF, type OutputFormat, type ParquetCompression, type WriterOptions, type ResolvedWriterOptions } from "./writers.js";
export { LineReader, scanLines, type BlankLinePolicy, type LineBatch, type LineReaderOptions, type LineScan } from "./lines.js";
export { parsePart, shardsOfPart, shardStem, type Part } from "./plan.js";
export { arrowTypeOf, fieldOf, columnTypeOfField, TYPE_METADATA_KEY } from "./columns.js";
export { splitCsvLine, csvField } from "./csv-fields.js";
export { joinFiles, pairFiles, type JoinFilesOptions, type JoinFilesResult } from "./pairs.js";
export { FeatureParser, type FeatureColumn } from "./features.js";
export { combinePartResults, partResultsName, readPartResults } from "./combine.js";
