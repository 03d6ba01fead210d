using System.Text.Json.Nodes;
using System.Xml.Linq;
using System.Xml.XPath;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;
using Tora.Api.Generations;
using Tora.Core.Generations;

namespace Tora.Api.OpenApi;

/// <summary>Swagger document and UI: bearer scheme, request examples (the original Tora "coaster" trajectory).</summary>
public static class SwaggerSetup
{
    /// <summary>The document name (served at <c>/swagger/v1/swagger.json</c> and <c>.yaml</c>).</summary>
    public const string DocumentName = "v1";

    /// <summary>The coaster trajectory of the original repository (sat/trajs/coaster.txt), on the 256×256 canvas.</summary>
    public static readonly double[][] Coaster =
    [
        [40, 208], [40, 148], [40, 100], [52, 58], [60, 57], [74, 68], [78, 90], [84, 123], [88, 148], [96, 168],
        [100, 181], [102, 188], [105, 192], [113, 118], [119, 80], [128, 68], [145, 109], [149, 155], [157, 175],
        [161, 184], [164, 184], [172, 166], [183, 107], [189, 84], [198, 76],
    ];

    /// <summary>The example request body.</summary>
    public static JsonObject ExampleRequest() => new()
    {
        ["prompt"] = "A red roller coaster car races along a winding track through a sunny amusement park.",
        ["trajectories"] = new JsonArray(new JsonObject
        {
            ["points"] = new JsonArray(Coaster.Select(p => (JsonNode)new JsonArray(p[0], p[1])).ToArray()),
            ["space"] = "canvas256",
        }),
        ["steps"] = 50,
        ["guidance_scale"] = 6,
        ["seed"] = 42,
        ["fps"] = 8,
        ["metadata"] = new JsonObject { ["user"] = "demo" },
        ["webhook"] = new JsonObject
        {
            ["url"] = "https://example.com/hooks/tora",
            ["events"] = new JsonArray("generation.succeeded", "generation.failed"),
        },
        ["cancel_after"] = 1800,
        ["expires_after"] = 86400,
    };

    /// <summary>An example webhook body (<c>generation.succeeded</c>), as signed and sent.</summary>
    public static JsonObject ExampleWebhookEvent() => new()
    {
        ["type"] = "generation.succeeded",
        ["timestamp"] = "2026-11-25T14:03:12.512Z",
        ["data"] = new JsonObject
        {
            ["id"] = "01a212f8-d203-70de-a3e4-f2483a2c97e6",
            ["object"] = "generation",
            ["status"] = "succeeded",
            ["model"] = "tora-t2v",
            ["error"] = null,
            ["urls"] = new JsonObject
            {
                ["self"] = "/v1/generations/01a212f8-d203-70de-a3e4-f2483a2c97e6",
                ["video"] = "/v1/generations/01a212f8-d203-70de-a3e4-f2483a2c97e6/video",
                ["thumbnail"] = "/v1/generations/01a212f8-d203-70de-a3e4-f2483a2c97e6/thumbnail",
            },
            ["metadata"] = new JsonObject { ["user"] = "demo" },
        },
    };

    private static OpenApiParameter Header(string name, string description, string example) => new()
    {
        Name = name,
        In = ParameterLocation.Header,
        Required = false,
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        Example = JsonValue.Create(example),
    };

    private static void AddParameter(OpenApiOperation operation, OpenApiParameter parameter)
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(parameter);
    }

    /// <summary>Adds Swashbuckle with the bearer scheme and examples.</summary>
    public static IServiceCollection AddToraSwagger(this IServiceCollection services) =>
        services.AddEndpointsApiExplorer().AddSwaggerGen(c =>
        {
            c.SwaggerDoc(DocumentName, new OpenApiInfo
            {
                Title = "Tora.Server API",
                Version = "v1",
                Description = "Trajectory-controlled video generation (Tora on CogVideoX) as a service. Authenticate with " +
                              "'Authorization: Bearer <key>' (create a key with 'tora keys create --tenant NAME'). Errors are " +
                              "application/problem+json with a stable 'code'; invalid fields carry JSON pointers. Webhooks follow Standard " +
                              "Webhooks: headers webhook-id (stable across retries), webhook-timestamp and webhook-signature ('v1,' + " +
                              "base64 HMAC-SHA256 of 'id.timestamp.body' keyed with the bytes of your whsec_ secret from GET " +
                              "/v1/webhooks/secret; two space-separated signatures during a rotation). A 2xx answer within 15 s " +
                              "delivers; otherwise retries follow 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (410 stops). " +
                              "Body: {type, timestamp, data: {id, object, status, model, error, urls, metadata}}. Rate-limited " +
                              "endpoints answer RateLimit-Policy and RateLimit headers, and 429 with Retry-After. While the database is " +
                              "unavailable (a restart) every endpoint answers 503 database_unavailable with Retry-After and stores " +
                              "nothing: retry then, a create with the same Idempotency-Key.",
            });
            c.AddSecurityDefinition("bearer", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "tora_<key>",
                Description = "An API key from 'tora keys create --tenant NAME'.",
            });
            c.AddSecurityRequirement(document => new OpenApiSecurityRequirement
            {
                [new OpenApiSecuritySchemeReference("bearer", document)] = [],
            });
            c.OperationFilter<ExamplesOperationFilter>();
            c.DocumentFilter<ContractDocumentFilter>();
            c.SupportNonNullableReferenceTypes();
            // A nullable reference (error, reproducibility, webhook) can only say so through allOf in OpenAPI 3.0.
            c.UseAllOfToExtendReferenceSchemas();
            // Tora.Motion documents the trajectory wire record the requests carry.
            foreach (var assembly in new[] { "Tora.Api.xml", "Tora.Motion.xml" })
            {
                var xml = Path.Combine(AppContext.BaseDirectory, assembly);
                if (File.Exists(xml)) c.IncludeXmlComments(xml);
            }
            // Tora.Core documents the generation resource the answers carry (rendered there with the SSE and webhook
            // payloads); of its other types only what the API declares is documented.
            var core = Path.Combine(AppContext.BaseDirectory, "Tora.Core.xml");
            if (File.Exists(core)) c.IncludeXmlComments(() => DocumentationOf(core, ResourceTypes));
        });

    /// <summary>The Tora.Core types the document describes with their own XML comments.</summary>
    private static readonly Type[] ResourceTypes =
        [typeof(GenerationResource), typeof(ProgressResource), typeof(ErrorResource), typeof(UrlsResource), typeof(GenerationPage)];

    /// <summary>The members of an XML documentation file that belong to <paramref name="types"/>.</summary>
    private static XPathDocument DocumentationOf(string path, IEnumerable<Type> types)
    {
        var names = types.Select(t => t.FullName!).ToArray();
        var doc = XDocument.Load(path);
        doc.Descendants("member")
            .Where(m => m.Attribute("name")?.Value is not { Length: > 2 } name
                        || !names.Any(n => name[2..] == n || name[2..].StartsWith(n + ".", StringComparison.Ordinal) || name[2..].StartsWith(n + "(", StringComparison.Ordinal)))
            .Remove();
        using var reader = doc.CreateReader();
        return new XPathDocument(reader);
    }

    private sealed class ExamplesOperationFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            // Anonymous endpoints (health) need no key: say so instead of inheriting the document's bearer requirement.
            if (context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<Microsoft.AspNetCore.Authorization.IAllowAnonymous>().Any())
                operation.Security = [];
            if (operation.OperationId == "PreviewTrajectories" && operation.RequestBody?.Content is { } previewContent
                && previewContent.TryGetValue("application/json", out var pj) && pj is OpenApiMediaType preview)
            {
                preview.Example = new JsonObject
                {
                    ["trajectories"] = ExampleRequest()["trajectories"]!.DeepClone(),
                    ["mode"] = "flow",
                    ["fps"] = 8,
                };
            }
            if (operation.OperationId == "ListGenerations" && operation.Parameters is { } parameters)
            {
                foreach (var parameter in parameters.OfType<OpenApiParameter>())
                {
                    parameter.Example = parameter.Name switch
                    {
                        "status" => "succeeded",
                        "limit" => "20",
                        "after" => "01a212f8-d203-70de-a3e4-f2483a2c97e6",
                        _ => parameter.Example,
                    };
                }
            }
            switch (operation.OperationId)
            {
                case "CreateGeneration":
                    AddParameter(operation, Header("Idempotency-Key",
                        "Makes the create safe to retry: 1-255 printable ASCII characters (a UUID is recommended), remembered 24 h per tenant. " +
                        "Same key and payload: the same generation again (Idempotent-Replayed: true); another payload: 422 " +
                        "idempotency_key_reused; first request still in progress: 409 idempotency_key_in_flight (a request that never " +
                        "finished frees its key after 10 s). After a 503, retry with the same key: it never creates a second generation.",
                        "8e03978e-40d5-43e8-bc93-6894a57f9324"));
                    AddParameter(operation, Header("Prefer",
                        "wait=N (RFC 7240, N ≤ 60): hold the answer until the generation finishes (201 with the finished resource) " +
                        "or N seconds pass (202). Preference-Applied echoes it.", "wait=30"));
                    break;
                case "StreamGenerationEvents":
                    AddParameter(operation, Header("Last-Event-ID",
                        "Resume after this event id (browsers' EventSource sends it on reconnect): the events after it, no gap, no repeat.", "1042"));
                    if (operation.Responses?.TryGetValue("200", out var ok) == true && ok.Content?.TryGetValue("text/event-stream", out var sse) == true
                        && sse is OpenApiMediaType stream)
                    {
                        stream.Example = JsonValue.Create(
                            "retry: 2000\n\n" +
                            "event: queue\ndata: {\"id\":\"01a212f8-d203-70de-a3e4-f2483a2c97e6\",\"queue_position\":0}\n\n" +
                            "id: 1041\nevent: status\ndata: {\"id\":\"01a212f8-d203-70de-a3e4-f2483a2c97e6\",\"status\":\"running\",\"phase\":\"starting\",\"step\":0,\"total_steps\":50,\"attempts\":1,\"error\":null}\n\n" +
                            "id: 1042\nevent: progress\ndata: {\"id\":\"01a212f8-d203-70de-a3e4-f2483a2c97e6\",\"status\":\"running\",\"phase\":\"denoise\",\"step\":10,\"total_steps\":50,\"percent\":20,\"eta_seconds\":212.4}\n\n" +
                            ": heartbeat\n\n");
                    }
                    break;
                case "TestWebhook" when operation.RequestBody?.Content?.TryGetValue("application/json", out var t) == true && t is OpenApiMediaType test:
                    test.Example = new JsonObject { ["url"] = "https://example.com/hooks/tora" };
                    break;
                case "ListWebhookDeliveries" when operation.Responses?.TryGetValue("200", out var listed) == true
                                                  && listed.Content?.TryGetValue("application/json", out var l) == true && l is OpenApiMediaType list:
                    list.Example = new JsonObject
                    {
                        ["data"] = new JsonArray(new JsonObject
                        {
                            ["id"] = "6f1c1f4e-3a0e-4a53-9d1e-0c7f3c1b9a10",
                            ["webhook_id"] = "msg_6f1c1f4e3a0e4a539d1e0c7f3c1b9a10",
                            ["type"] = "generation.succeeded",
                            ["url"] = "https://example.com/hooks/tora",
                            ["state"] = "delivered",
                            ["created_at"] = "2026-11-25T14:03:12.512+00:00",
                            ["next_attempt_at"] = null,
                            ["payload"] = ExampleWebhookEvent(),
                            ["attempts"] = new JsonArray(
                                new JsonObject { ["attempt"] = 1, ["attempted_at"] = "2026-11-25T14:03:12.700+00:00", ["status_code"] = 500, ["error"] = null, ["duration_ms"] = 41.2 },
                                new JsonObject { ["attempt"] = 2, ["attempted_at"] = "2026-11-25T14:03:17.720+00:00", ["status_code"] = 204, ["error"] = null, ["duration_ms"] = 12.9 }),
                        }),
                        ["object"] = "list",
                    };
                    break;
            }
            if (operation.OperationId != "CreateGeneration" || operation.RequestBody?.Content is not { } content) return;
            if (content.TryGetValue("application/json", out var j) && j is OpenApiMediaType json) json.Example = ExampleRequest();
            if (content.TryGetValue("multipart/form-data", out var f) && f is OpenApiMediaType form)
            {
                form.Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Required = new HashSet<string> { "request" },
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["request"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The JSON request (same fields as the JSON body, without 'image')." },
                        ["flow_video"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary", Description = "A flow video (MP4 of the flow-colour-wheel images, the request's frame count and size) used as the motion input instead of 'trajectories' (send no trajectories with it). README: Motion controls." },
                        ["image"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary", Description = $"First frame: PNG, JPEG or WebP, at most {FirstFrameImage.MaxBytes / (1024 * 1024)} MB and {FirstFrameImage.MaxSide} px a side." },
                    },
                };
                form.Example = new JsonObject { ["request"] = ExampleRequest().ToJsonString() };
            }
        }
    }
}
