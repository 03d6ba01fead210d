using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;
using Tora.Api.Generations;
using Tora.Core.Generations;

namespace Tora.Api.OpenApi;

/// <summary>
/// Makes the generated document say what the API really answers, so that validating proxies (Prism) and generated
/// clients (Kiota, openapi-typescript) read it right: every status an operation can answer with its headers and media
/// type, one <c>Problem</c> schema for every problem+json body, nullable references as nullable, every property of a
/// response required (the API always writes them, null or not), and request schemas that refuse what the API refuses
/// wherever a schema can say it. The statuses are listed here, next to each other, rather than spread over the
/// endpoint mappings, because they are one contract (checked by tests/Tora.Client.Tests through Prism, Kiota,
/// openapi-typescript and Redocly).
/// </summary>
public sealed class ContractDocumentFilter : IDocumentFilter
{
    /// <summary>The problem schema's name.</summary>
    public const string ProblemSchema = "Problem";

    private const string ProblemJson = "application/problem+json";

    /// <summary>What each operation answers besides its success (which the endpoint mapping declares).</summary>
    private static readonly Dictionary<string, int[]> Problems = new()
    {
        ["CreateGeneration"] = [400, 401, 409, 410, 413, 415, 422, 429, 503],
        ["ListGenerations"] = [400, 401, 503],
        ["GetGeneration"] = [401, 404, 503],
        ["DeleteGeneration"] = [401, 404, 409, 503],
        ["CancelGeneration"] = [401, 404, 409, 503],
        ["GetGenerationVideo"] = [401, 404, 409, 410, 503],
        ["GetGenerationThumbnail"] = [401, 404, 409, 410, 503],
        ["StreamGenerationEvents"] = [400, 401, 404, 503],
        ["ListModels"] = [401, 503],
        ["ListTrajectoryPresets"] = [401],
        ["PreviewTrajectories"] = [400, 401, 413, 415, 422, 429],
        ["GetWebhookSecret"] = [401, 503],
        ["RotateWebhookSecret"] = [401, 503],
        ["TestWebhook"] = [400, 401, 415, 422, 429, 503],
        ["ListWebhookDeliveries"] = [401, 404, 503],
        ["RedeliverWebhook"] = [401, 404, 409, 503],
    };

    /// <summary>Operations limited per tenant: every answer carries the RateLimit headers.</summary>
    private static readonly HashSet<string> RateLimited = ["CreateGeneration", "PreviewTrajectories", "TestWebhook"];

    /// <inheritdoc />
    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        document.Servers = [new OpenApiServer { Url = "http://127.0.0.1:5080", Description = "run.sh on this machine (TORA_API_PORT); use your deployment's address" }];
        document.Tags = new HashSet<OpenApiTag>
        {
            new() { Name = "Generations", Description = "Queue video generations, follow them (poll, Server-Sent Events, webhooks) and download the results." },
            new() { Name = "Health", Description = "Liveness and readiness for load balancers and orchestrators (no key needed)." },
            new() { Name = "Models", Description = "The models offered, their defaults and allowed values, and whether workers serve them." },
            new() { Name = "Trajectories", Description = "Trajectory presets and a motion preview before any GPU time is spent." },
            new() { Name = "Webhooks", Description = "Signing secrets, test deliveries and the delivery log (Standard Webhooks)." },
        };
        document.Components ??= new OpenApiComponents();
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Headers = Headers();
        AddProblemSchema(document);
        TightenRequests(document);
        NullableObjectsByReference(document);
        RequireResponseProperties(document);

        foreach (var (path, item) in document.Paths)
        foreach (var (method, operation) in item.Operations ?? [])
        {
            var id = operation.OperationId ?? "";
            operation.Responses ??= new OpenApiResponses();
            // An operation not listed yet still declares what every authenticated one can answer (no valid key; the
            // database unavailable); list it above with the rest of its statuses.
            var statuses = Problems.GetValueOrDefault(id) ?? (operation.Security is { Count: 0 } ? [] : [401, 503]);
            foreach (var status in statuses)
                operation.Responses[status.ToString()] = ProblemResponse(document, status, id);
            DescribeSuccesses(document, id, operation);
            if (RateLimited.Contains(id))
                foreach (var response in operation.Responses.Values.OfType<OpenApiResponse>())
                {
                    response.Headers ??= new Dictionary<string, IOpenApiHeader>();
                    response.Headers["RateLimit-Policy"] = new OpenApiHeaderReference("RateLimit-Policy", document);
                    response.Headers["RateLimit"] = new OpenApiHeaderReference("RateLimit", document);
                }
            TightenParameters(id, operation);
            // Sorted by status, so that the served document and openapi.yaml read the same way.
            var sorted = operation.Responses.OrderBy(r => r.Key, StringComparer.Ordinal).ToList();
            operation.Responses.Clear();
            foreach (var (k, v) in sorted) operation.Responses[k] = v;
        }
        document.Components.Schemas.Remove("ProblemDetails");
    }

    private static Dictionary<string, IOpenApiHeader> Headers() => new()
    {
        ["RateLimit-Policy"] = Header("The tenant's quota (draft-ietf-httpapi-ratelimit-headers): `\"tenant\";q=<requests>;w=60`.", JsonSchemaType.String),
        ["RateLimit"] = Header("What is left of the quota: `\"tenant\";r=<remaining>;t=<seconds to reset>`.", JsonSchemaType.String),
        ["Retry-After"] = Header("Seconds to wait before retrying.", JsonSchemaType.Integer),
        ["Location"] = Header("The generation's URL (`/v1/generations/{id}`).", JsonSchemaType.String),
        ["Idempotent-Replayed"] = Header("`true` when this answer replays an earlier request with the same Idempotency-Key.", JsonSchemaType.String, ["true"]),
        ["Preference-Applied"] = Header("`wait=N` when a `Prefer: wait=N` was honoured (RFC 7240).", JsonSchemaType.String),
        ["ETag"] = Header("The file's entity tag (send it as If-None-Match).", JsonSchemaType.String),
        ["Last-Modified"] = Header("When the file was stored.", JsonSchemaType.String),
        ["Accept-Ranges"] = Header("`bytes`: Range requests are answered with 206.", JsonSchemaType.String, ["bytes"]),
        ["Content-Range"] = Header("The bytes sent (`bytes 0-99/12345`), or the file size on 416 (`bytes */12345`).", JsonSchemaType.String),
        ["WWW-Authenticate"] = Header("`Bearer`: send an API key.", JsonSchemaType.String),
    };

    private static OpenApiHeader Header(string description, JsonSchemaType type, string[]? values = null) => new()
    {
        Description = description,
        Schema = new OpenApiSchema { Type = type, Enum = values?.Select(v => (JsonNode)JsonValue.Create(v)!).ToList() },
    };

    private static OpenApiHeaderReference Ref(OpenApiDocument document, string header) => new(header, document);

    private static void AddHeaders(OpenApiDocument document, IOpenApiResponse? response, params string[] headers)
    {
        if (response is not OpenApiResponse r) return;
        r.Headers ??= new Dictionary<string, IOpenApiHeader>();
        foreach (var h in headers) r.Headers[h] = Ref(document, h);
    }

    private static OpenApiResponse ProblemResponse(OpenApiDocument document, int status, string operationId)
    {
        var response = new OpenApiResponse
        {
            Description = status switch
            {
                400 => "The request could not be read (malformed JSON, a bad header or query parameter).",
                401 => "No valid API key (`Authorization: Bearer <key>`).",
                404 => "No such resource for this key's tenant.",
                409 => operationId switch
                {
                    "CreateGeneration" => "A request with this Idempotency-Key is still in progress (`idempotency_key_in_flight`).",
                    "DeleteGeneration" => "The generation is running (`generation_running`).",
                    "CancelGeneration" => "The generation has already finished (`not_cancellable`).",
                    "RedeliverWebhook" => "The event is still being delivered (`delivery_pending`).",
                    _ => "The generation has no file yet (`not_ready`): it has not succeeded.",
                },
                410 => operationId == "CreateGeneration"
                    ? "The generation of this Idempotency-Key was deleted (`generation_deleted`)."
                    : "The files are gone (`expired`, or `file_gone`).",
                413 => "The body is over 16 MB (`payload_too_large`).",
                415 => "The Content-Type is not one this operation reads (`unsupported_media_type`).",
                422 => "Some fields are invalid: `errors` names each with its JSON pointer.",
                429 => "Over the tenant's rate (`rate_limited`) or queued cap (`too_many_queued`).",
                503 => "The database or blob store is unavailable (`database_unavailable`, `storage_unavailable`); nothing was stored.",
                _ => "A problem.",
            },
            Content = new Dictionary<string, IOpenApiMediaType>
            {
                [ProblemJson] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
            },
        };
        if (status == 401) AddHeaders(document, response, "WWW-Authenticate");
        if (status is 429 or 503 || (status == 409 && operationId == "CreateGeneration")) AddHeaders(document, response, "Retry-After");
        return response;
    }

    /// <summary>Headers and media types of the success answers, and the statuses that carry no problem body.</summary>
    private static void DescribeSuccesses(OpenApiDocument document, string operationId, OpenApiOperation operation)
    {
        var responses = operation.Responses!;
        switch (operationId)
        {
            case "CreateGeneration":
                AddHeaders(document, Get(responses, "201"), "Location", "Preference-Applied");
                AddHeaders(document, Get(responses, "202"), "Location", "Idempotent-Replayed", "Preference-Applied");
                if (Get(responses, "201") is OpenApiResponse created)
                    created.Description = "The generation finished within `Prefer: wait` (the finished resource).";
                if (Get(responses, "202") is OpenApiResponse accepted)
                    accepted.Description = "Queued (or still running after `Prefer: wait`); poll `Location`.";
                break;
            case "CancelGeneration":
                AddHeaders(document, Get(responses, "202"), "Location");
                break;
            case "RedeliverWebhook":
                AddHeaders(document, Get(responses, "202"), "Location");
                break;
            case "GetGenerationVideo" or "GetGenerationThumbnail":
                DescribeFile(document, operation, operationId == "GetGenerationVideo" ? "video/mp4" : "image/jpeg");
                break;
            case "StreamGenerationEvents" when Get(responses, "200") is OpenApiResponse ok:
                ok.Description = "The event stream (ends after the terminal status).";
                if (Get(ok.Content, "text/event-stream") is OpenApiMediaType sse) sse.Schema = new OpenApiSchema { Type = JsonSchemaType.String };
                break;
            case "Ready":
                responses["200"] = new OpenApiResponse
                {
                    Description = "Every check passes.",
                    Content = new Dictionary<string, IOpenApiMediaType>
                    {
                        ["application/json"] = new OpenApiMediaType { Schema = new OpenApiSchemaReference("HealthReport", document) },
                    },
                };
                if (Get(responses, "503") is OpenApiResponse notReady) notReady.Description = "Some check fails: `checks` says which and why.";
                break;
        }
    }

    private static void DescribeFile(OpenApiDocument document, OpenApiOperation operation, string mediaType)
    {
        var responses = operation.Responses!;
        OpenApiResponse File(string description, params string[] headers)
        {
            var r = new OpenApiResponse
            {
                Description = description,
                Content = new Dictionary<string, IOpenApiMediaType>
                {
                    [mediaType] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
                },
            };
            AddHeaders(document, r, headers);
            return r;
        }
        responses["200"] = File("The whole file.", "ETag", "Last-Modified", "Accept-Ranges");
        responses["206"] = File("The requested byte range (`Range: bytes=…`).", "ETag", "Last-Modified", "Accept-Ranges", "Content-Range");
        var notModified = new OpenApiResponse { Description = "The file has not changed (`If-None-Match` matched its ETag)." };
        AddHeaders(document, notModified, "ETag");
        responses["304"] = notModified;
        var unsatisfiable = new OpenApiResponse { Description = "The Range lies outside the file; Content-Range gives its size." };
        AddHeaders(document, unsatisfiable, "Content-Range");
        responses["416"] = unsatisfiable;
        if (mediaType == "video/mp4")
        {
            var redirect = new OpenApiResponse { Description = "With an S3 blob store: a short-lived signed URL of the file." };
            AddHeaders(document, redirect, "Location");
            responses["302"] = redirect;
        }
        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = "Range", In = ParameterLocation.Header, Description = "One byte range, e.g. `bytes=0-1023` (206), RFC 9110.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        });
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = "If-None-Match", In = ParameterLocation.Header, Description = "The ETag you hold: 304 when the file is unchanged.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        });
    }

    private static void AddProblemSchema(OpenApiDocument document)
    {
        document.Components!.Schemas![ProblemSchema] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "An error (RFC 9457 problem details) with a stable `code`. `type` names the code as a URI.",
            Required = new HashSet<string> { "type", "title", "status", "code", "trace_id" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "`https://tora.dev/problems/<code with dashes>`." },
                ["title"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A short summary of the kind of problem." },
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Description = "The HTTP status." },
                ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What went wrong with this request, for a human." },
                ["instance"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Stable snake_case code (`validation_failed`, `not_found`, …): switch on this." },
                ["errors"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Array,
                    Description = "The invalid inputs (400 and 422).",
                    Items = new OpenApiSchemaReference("FieldError", document),
                },
                ["trace_id"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.String, Pattern = "^[0-9a-f]{32}$",
                    Description = "The request's W3C trace id (as in `traceparent` and the server's logs).",
                },
            },
        };
        document.Components.Schemas["FieldError"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "One invalid input: a body field by its JSON pointer, or a query parameter by its name.",
            Required = new HashSet<string> { "code", "detail" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["pointer"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "RFC 6901 pointer into the request body, e.g. `/trajectories/0/points/2`." },
                ["parameter"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The query parameter, e.g. `limit`." },
                ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Stable snake_case code of this input's problem." },
                ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What is wrong, for a human." },
            },
            AdditionalPropertiesAllowed = false,
        };
    }

    private static TValue? Get<TValue>(IDictionary<string, TValue>? dictionary, string key) where TValue : class =>
        dictionary is not null && dictionary.TryGetValue(key, out var value) ? value : null;

    private static OpenApiSchema? Schema(OpenApiDocument document, string name) =>
        Get(document.Components!.Schemas!, name) as OpenApiSchema;

    private static OpenApiSchema? Property(OpenApiSchema? schema, string name) =>
        Get(schema?.Properties, name) as OpenApiSchema;

    private static JsonNode Node(string value) => JsonValue.Create(value)!;

    /// <summary>The request bodies: what the validator refuses, said in the schema where a schema can say it.</summary>
    private static void TightenRequests(OpenApiDocument document)
    {
        if (Schema(document, "CreateGenerationRequest") is { } create)
        {
            create.Required = new HashSet<string> { "prompt" };
            if (Property(create, "prompt") is { } prompt)
            {
                prompt.Type = JsonSchemaType.String; // not nullable: the API refuses a missing or null prompt
                prompt.MinLength = 1;
                prompt.MaxLength = GenerationRequestValidator.MaxPromptLength;
            }
            if (Property(create, "negative_prompt") is { } negative) negative.MaxLength = GenerationRequestValidator.MaxPromptLength;
            if (Property(create, "trajectories") is { } trajectories) trajectories.MaxItems = 16;
            if (Property(create, "seed") is { } seed) { seed.Minimum = "0"; seed.Maximum = GenerationRequestValidator.MaxSeed.ToString(); }
            if (Property(create, "steps") is { } steps) steps.Minimum = "1";
            if (Property(create, "guidance_scale") is { } guidance) { guidance.Minimum = "0"; guidance.Maximum = "30"; }
            if (Property(create, "fps") is { } fps) { fps.Minimum = "1"; fps.Maximum = "60"; }
            if (Property(create, "cancel_after") is { } cancel) { cancel.Minimum = "1"; cancel.Maximum = GenerationRequestValidator.MaxCancelAfter.ToString(); }
            // Sent as an object or left out (null means the same to the API, but a plain reference is what generated
            // clients and example validators read without trouble).
            create.Properties!["webhook"] = new OpenApiSchemaReference("WebhookRequest", document);
            if (Property(create, "metadata") is { } metadata)
            {
                metadata.MaxProperties = 16;
                metadata.AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 512 };
            }
        }
        if (Schema(document, "TrajectorySpec") is { } trajectory)
        {
            trajectory.Required = new HashSet<string> { "points" };
            if (Property(trajectory, "points") is { } points)
            {
                points.Type = JsonSchemaType.Array;
                points.MinItems = 1;
                points.MaxItems = 2048;
                points.Items = new OpenApiSchema
                {
                    Type = JsonSchemaType.Array, MinItems = 2, MaxItems = 2,
                    Description = "`[x, y]` in the trajectory's space.",
                    Items = new OpenApiSchema { Type = JsonSchemaType.Number, Format = "double" },
                };
            }
            if (Property(trajectory, "space") is { } space)
            {
                space.Type = JsonSchemaType.String;
                space.Enum = Enum.GetValues<Tora.Motion.Trajectories.CoordinateSpace>().Select(Tora.Motion.Trajectories.CoordinateSpaces.Name).Select(Node).ToList();
            }
            if (Property(trajectory, "frames")?.Items is OpenApiSchema frame) frame.Minimum = "0";
        }
        if (Schema(document, "WebhookRequest") is { } webhook)
        {
            webhook.Required = new HashSet<string> { "url" };
            if (Property(webhook, "url") is { } url) url.Type = JsonSchemaType.String;
            if (Property(webhook, "events") is { } events)
                events.Items = new OpenApiSchema { Type = JsonSchemaType.String, Enum = Tora.Core.Webhooks.WebhookSigner.EventTypes.Select(Node).ToList() };
        }
        if (Schema(document, "TrajectoryPreviewRequest") is { } preview)
        {
            preview.Required = new HashSet<string> { "trajectories" };
            if (Property(preview, "trajectories") is { } t) { t.Type = JsonSchemaType.Array; t.MinItems = 1; t.MaxItems = 16; }
            if (Property(preview, "mode") is { } mode) { mode.Type = JsonSchemaType.String; mode.Enum = [Node("flow"), Node("paths")]; }
            if (Property(preview, "fps") is { } fps) { fps.Minimum = "1"; fps.Maximum = "60"; }
        }
        if (Schema(document, "WebhookTestRequest") is { } test)
        {
            test.Required = new HashSet<string> { "url" };
            if (Property(test, "url") is { } url) url.Type = JsonSchemaType.String;
        }
    }

    /// <summary>Query parameters and request headers as the API reads them.</summary>
    private static void TightenParameters(string operationId, OpenApiOperation operation)
    {
        foreach (var p in (operation.Parameters ?? []).OfType<OpenApiParameter>())
        {
            switch (operationId, p.Name)
            {
                case ("ListGenerations", "status"):
                    p.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = GenerationStatus.All.Select(Node).ToList() };
                    break;
                case ("ListGenerations", "limit"):
                    p.Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = Apis.GenerationsApi.MaxPageSize.ToString(), Default = JsonValue.Create(20) };
                    p.Example = JsonValue.Create(20);
                    break;
                case ("ListGenerations", "after"):
                    p.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid" };
                    break;
                case ("CreateGeneration", IdempotencyKey.Header):
                    // A structured-field string: quoted, or (leniently) a bare token; 1-255 printable ASCII characters inside.
                    p.Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.String, MinLength = 1, MaxLength = IdempotencyKey.MaxLength + 2,
                        Pattern = @"^(""[ !#-\[\]-~]{1,255}""|[ !#-\[\]-~]{1,255})$",
                    };
                    break;
                case ("StreamGenerationEvents", "Last-Event-ID" or "last_event_id"):
                    p.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Pattern = "^[0-9]+$" };
                    break;
            }
        }
    }

    /// <summary>
    /// A nullable object property (<c>error</c>, <c>reproducibility</c>, <c>input.webhook</c>) comes out of the generator as
    /// <c>nullable</c> beside <c>allOf: [$ref]</c>, which OpenAPI 3.0 leaves untyped (Redocly refuses it). When a schema
    /// is only ever referenced by such properties, the schema itself says <c>nullable</c> and the properties refer to it
    /// plainly: every validator (Prism), generator (Kiota, openapi-typescript) and linter reads that the same way.
    /// </summary>
    private static void NullableObjectsByReference(OpenApiDocument document)
    {
        var schemas = document.Components!.Schemas!;
        var nullableUses = new List<(OpenApiSchema Owner, string Property, string Target)>();
        var plainTargets = new HashSet<string>();
        foreach (var owner in schemas.Values.OfType<OpenApiSchema>())
        foreach (var (name, property) in owner.Properties ?? new Dictionary<string, IOpenApiSchema>())
        {
            if (property is OpenApiSchemaReference plain && plain.Reference.Id is { } id) plainTargets.Add(id);
            else if (property is OpenApiSchema { AllOf: [OpenApiSchemaReference { Reference.Id: { } target }] } wrapper
                     && wrapper.Type is { } type && type.HasFlag(JsonSchemaType.Null))
                nullableUses.Add((owner, name, target));
        }
        foreach (var (owner, property, target) in nullableUses)
        {
            if (plainTargets.Contains(target) || Schema(document, target) is not { } referenced) continue;
            referenced.Type = (referenced.Type ?? JsonSchemaType.Object) | JsonSchemaType.Null;
            owner.Properties![property] = new OpenApiSchemaReference(target, document);
        }
    }

    /// <summary>
    /// Every schema only ever answered (not reachable from a request body) lists all its properties as required: the
    /// API writes each one, null when it has no value, so clients need not treat them as optional.
    /// </summary>
    private static void RequireResponseProperties(OpenApiDocument document)
    {
        var requestSchemas = new HashSet<string>();
        foreach (var item in document.Paths.Values)
        foreach (var operation in (item.Operations ?? []).Values)
        foreach (var media in (operation.RequestBody?.Content ?? new Dictionary<string, IOpenApiMediaType>()).Values)
            Collect(document, media.Schema, requestSchemas);
        foreach (var (name, schema) in document.Components!.Schemas!)
            if (schema is OpenApiSchema s && !requestSchemas.Contains(name) && name is not (ProblemSchema or "FieldError" or "ProblemDetails") && s.Properties is { Count: > 0 })
                s.Required = new SortedSet<string>(s.Properties.Keys, StringComparer.Ordinal);
    }

    private static void Collect(OpenApiDocument document, IOpenApiSchema? schema, HashSet<string> names)
    {
        switch (schema)
        {
            case null:
                return;
            case OpenApiSchemaReference reference:
                if (reference.Reference.Id is { } id && names.Add(id)) Collect(document, Get(document.Components!.Schemas!, id), names);
                return;
        }
        foreach (var p in schema.Properties?.Values ?? []) Collect(document, p, names);
        Collect(document, schema.Items, names);
        if (schema.AdditionalProperties is { } ap) Collect(document, ap, names);
        foreach (var s in (schema.AllOf ?? []).Concat(schema.OneOf ?? []).Concat(schema.AnyOf ?? [])) Collect(document, s, names);
    }
}
