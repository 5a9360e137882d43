// Validates an OpenAPI document against the official OpenAPI 3.1 JSON schema (with the 3.1 dialect), and resolves its
// $refs. Prints the errors and exits non-zero when the document is not valid or not OpenAPI 3.1.
import { readFile } from "node:fs/promises";
import { Validator } from "@seriousme/openapi-schema-validator";

const path = process.argv[2];
if (!path) {
  console.error("usage: node check.mjs <openapi.json>");
  process.exit(2);
}

const document = JSON.parse(await readFile(path, "utf8"));
const validator = new Validator();
const result = await validator.validate(document);
if (!result.valid) {
  console.error(JSON.stringify(result.errors, null, 2));
  console.error(`FAIL: ${path} is not a valid OpenAPI document`);
  process.exit(1);
}
if (validator.version !== "3.1") {
  console.error(`FAIL: ${path} is OpenAPI ${validator.version}, not 3.1`);
  process.exit(1);
}
const operations = Object.values(document.paths ?? {}).flatMap((item) => Object.keys(item)).length;
console.log(`OK: ${path} is valid OpenAPI ${document.openapi} (${Object.keys(document.paths ?? {}).length} paths, ${operations} operations)`);
