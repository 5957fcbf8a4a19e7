#!/usr/bin/env node
// Writes the quickstart's dataset deterministically: node examples/make-demo-data.mjs OUT.csv [ROWS]
// Product reviews with quoted text holding commas and doubled quotes, non-ASCII names and emoji,
// empty fields as nulls, numbers, booleans and timestamps. Same arguments give the same bytes.
import fs from "node:fs";

const [out, rowsArg] = process.argv.slice(2);
if (!out) {
  console.error("usage: node examples/make-demo-data.mjs OUT.csv [ROWS]");
  process.exit(2);
}
const rows = Number(rowsArg ?? 20000);

let state = 20261122;
function rnd() {
  // mulberry32
  state = (state + 0x6d2b79f5) | 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];

const NAMES = ["Ada", "Björn", "Chloé", "Dmitri", "Eşref", "Fatima", "Grzegorz", "Hana", "Iñaki", "Jürgen", "Kōji", "Łucja", "Mäeve", "Nguyễn", "Øystein", "Zoë"];
const CITIES = ["Berlin", "São Paulo", "Kraków", "Tōkyō", "Reykjavík", "Zürich", "Montréal", "Göteborg", "", "Málaga"];
const WORDS = ["great", "value", "broke", "after", "a week", "love it", "would buy again", "meh", "5 stars", "too small", "perfect fit", "arrived late", "😀", "smells \"new\"", "as described", "not, as described", "très bien", "🚀 fast"];

function csvField(s) {
  if (s === "") return "";
  if (/[",\r\n]/.test(s)) return `"${s.replaceAll('"', '""')}"`;
  return s;
}

const lines = ["id,name,city,review,rating,price,verified,reviewed_at"];
let t = Date.UTC(2025, 0, 1);
for (let i = 1; i <= rows; i++) {
  t += Math.floor(rnd() * 600_000);
  const n = 2 + Math.floor(rnd() * 8);
  const words = [];
  for (let k = 0; k < n; k++) words.push(pick(WORDS));
  const review = rnd() < 0.05 ? "" : words.join(rnd() < 0.5 ? ", " : " ");
  const rating = rnd() < 0.03 ? "" : String(1 + Math.floor(rnd() * 5));
  const price = (rnd() * 200).toFixed(2);
  const verified = rnd() < 0.7 ? "true" : "false";
  lines.push([String(i), csvField(pick(NAMES)), csvField(pick(CITIES)), csvField(review), rating, price, verified, new Date(t).toISOString()].join(","));
}
fs.writeFileSync(out, `${lines.join("\n")}\n`);
process.stderr.write(`wrote ${out}: ${rows} rows\n`);
