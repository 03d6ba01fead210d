using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;
using Tora.Api.Generations;

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
    };

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
                              "application/problem+json with a stable 'code'; invalid fields carry JSON pointers.",
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
            c.SupportNonNullableReferenceTypes();
            var xml = Path.Combine(AppContext.BaseDirectory, "Tora.Api.xml");
            if (File.Exists(xml)) c.IncludeXmlComments(xml);
        });

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
                        ["image"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary", Description = $"First frame: PNG, JPEG or WebP, at most {FirstFrameImage.MaxBytes / (1024 * 1024)} MB and {FirstFrameImage.MaxSide} px a side." },
                    },
                };
                form.Example = new JsonObject { ["request"] = ExampleRequest().ToJsonString() };
            }
        }
    }
}
