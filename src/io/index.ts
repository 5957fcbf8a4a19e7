export { Storage, gunzipIfGzip, BTKIT_SHA256_META, type ObjectInfo, type ReadOptions, type StorageOptions, type WriteOptions, type WriteResult } from "./storage.js";
export { createS3Client, s3SettingsFromEnv, type S3Settings } from "./s3.js";
export { claim, lockFor, withClaim, type Claim } from "./lock.js";
export { parseLocation, formatLocation, toUri, childLocation, manifestEntryLocation, baseName, isUnder, type Location } from "./location.js";
export { bodyChunks, collect, Digest, type Body } from "./body.js";
