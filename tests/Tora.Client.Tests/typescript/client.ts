// Create -> poll -> download against the Tora.Server API, typed only by what openapi-typescript generates from
// openapi.yaml (./api.d.ts, written by the test next to this file). TypeScriptTypesTests compiles it with tsc in
// strict mode: if the document stops saying what a client needs (nullable fields as `| null`, integers as numbers,
// the problem's code and pointers as strings), this stops compiling.
import type { components, paths } from "./api";

type CreateRequest = paths["/v1/generations"]["post"]["requestBody"]["content"]["application/json"];
type Generation = components["schemas"]["GenerationResource"];
type Problem = components["schemas"]["Problem"];
type ListQuery = NonNullable<paths["/v1/generations"]["get"]["parameters"]["query"]>;
type ListPage = paths["/v1/generations"]["get"]["responses"]["200"]["content"]["application/json"];

/** A problem+json answer as an Error: its stable code and the JSON pointer (or parameter) of each invalid input. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly problem: Problem) {
    const fields = (problem.errors ?? []).map((e) => `${e.pointer ?? e.parameter ?? ""}: ${e.detail}`);
    super([`${problem.code}: ${problem.detail ?? problem.title}`, ...fields].join("\n"));
  }
}

async function read<T>(response: Response): Promise<T> {
  if (!response.ok) throw new ApiError(response.status, (await response.json()) as Problem);
  return (await response.json()) as T;
}

/** Queues a generation, follows it to the end and returns the MP4. */
export async function generate(base: string, key: string, request: CreateRequest): Promise<Blob> {
  const auth = { Authorization: `Bearer ${key}` };
  let generation = await read<Generation>(await fetch(`${base}/v1/generations`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
    body: JSON.stringify(request),
  }));
  while (generation.status === "queued" || generation.status === "running") {
    const ahead: number | null = generation.queue_position;
    const eta: number | null = generation.progress.eta_seconds;
    await new Promise((resolve) => setTimeout(resolve, ahead === null ? Math.min(eta ?? 1, 5) * 1000 : 2000));
    generation = await read<Generation>(await fetch(`${base}${generation.urls.self}`, { headers: auth }));
  }
  if (generation.status !== "succeeded" || generation.urls.video === null) {
    const code: string = generation.error?.code ?? generation.status;
    throw new Error(`generation ${generation.id} ended ${generation.status}: ${code}`);
  }
  const video = await fetch(`${base}${generation.urls.video}`, { headers: auth });
  if (!video.ok) throw new ApiError(video.status, (await video.json()) as Problem);
  return await video.blob();
}

/** The newest succeeded generations, one page. */
export async function latest(base: string, key: string, after?: string): Promise<ListPage> {
  const query: ListQuery = { status: "succeeded", limit: 20, after };
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  return await read<ListPage>(await fetch(`${base}/v1/generations?${params}`, { headers: { Authorization: `Bearer ${key}` } }));
}

export const example: CreateRequest = {
  prompt: "A red roller coaster car races along a winding track.",
  trajectories: [{ points: [[40, 208], [88, 148], [128, 68], [198, 76]], space: "canvas256" }],
  steps: 50,
  seed: 42,
};
