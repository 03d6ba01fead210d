// Writes the Kiota input: openapi.yaml without the bodiless redirect (302) and not-modified (304) answers of the
// file downloads. Kiota makes an operation that declares any bodiless 3xx answer return no body at all, so the
// typed GetAsync of the video could not download it; the client's HttpClient follows the 302 itself, and a 304 only
// answers an If-None-Match that the typed method never sends. Everything else is the published document as is.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const [, , nodeModules, input, output] = process.argv;
const yaml = createRequire(nodeModules + "/")("js-yaml");
const doc = yaml.load(readFileSync(input, "utf8"));
for (const path of ["/v1/generations/{id}/video", "/v1/generations/{id}/thumbnail"]) {
  const responses = doc.paths[path].get.responses;
  for (const status of ["302", "304"]) delete responses[status];
}
writeFileSync(output, JSON.stringify(doc, null, 2));
