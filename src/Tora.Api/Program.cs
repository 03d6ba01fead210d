using System.Text.Json;
using Hangfire;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Npgsql;
using Prometheus;
using Tora.Api;
using Tora.Api.Apis;
using Tora.Api.Auth;
using Tora.Api.Bench;
using Tora.Api.Generations;
using Tora.Api.Observability;
using Tora.Api.OpenApi;
using Tora.Api.Problems;
using Tora.Core;
using Tora.Core.Database;
using Tora.Core.Jobs;
using Tora.Core.Observability;
using OpenTelemetry.Trace;
using Tora.Core.Webhooks;

var builder = WebApplication.CreateBuilder(args);
var connectionString = builder.Configuration.GetToraConnectionString();

// One body limit for every endpoint, set here on purpose (Kestrel's default is 30 MB): 16 MB, what the largest
// request needs (a 10 MB first frame as base64 plus the rest). A declared Content-Length over it is refused before
// reading; a chunked body is cut off once it passes it. Either way 413 payload_too_large, memory bounded by the cap.
builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = CreateRequestReader.MaxBodyBytes);
builder.Services.AddToraCore(builder.Configuration, "tora-api");
builder.Services.AddToraProblems();
// One trace per generation (OTLP by the standard OTEL_* variables; off when unset): the request span is the root.
builder.Services.AddToraTracing(builder.Configuration, "tora-api", t => t.AddAspNetCoreInstrumentation());
builder.Services.AddMemoryCache();
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    o.SerializerOptions.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never;
});
builder.Services.AddSingleton<ApiKeyCache>();
builder.Services.AddHostedService<ApiKeyChangeListener>();
builder.Services.AddOptions<Tora.Core.Tenancy.KeyOptions>().Bind(builder.Configuration.GetSection("Tora:Keys"));
builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
    .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
builder.Services.AddAuthorizationBuilder()
    .AddPolicy("admin", p => p.RequireAuthenticatedUser().RequireRole(ApiKeyAuthenticationHandler.AdminRole));

builder.Services.AddOptions<ApiOptions>().Bind(builder.Configuration.GetSection(ApiOptions.Section))
    .Validate(o => o.JobWorkers >= 1, "Tora:Api:JobWorkers must be at least 1")
    .Validate(o => o.JobInvisibilityTimeout > TimeSpan.Zero, "Tora:Api:JobInvisibilityTimeout must be positive")
    .ValidateOnStart();
builder.Services.AddOptions<BenchOptions>().Bind(builder.Configuration.GetSection(BenchOptions.Section));
// The Hangfire registrations below need the values while the services are being built.
var apiOptions = builder.Configuration.GetSection(ApiOptions.Section).Get<ApiOptions>() ?? new ApiOptions();

// Generation jobs are created by the dispatcher and run by workers.
builder.Services.AddHangfire(c => c.UseToraStorage(connectionString, apiOptions.JobInvisibilityTimeout));
builder.Services.AddSingleton<GenerationDispatcher>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<GenerationDispatcher>());
builder.Services.AddSingleton<GenerationCanceller>();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<Tora.Api.Limits.TenantRateLimiter>();
builder.Services.AddSingleton<GenerationEventHub>();
builder.Services.AddSingleton<AcceptedQueuePosition>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<GenerationEventHub>());
builder.Services.AddOptions<EventStreamOptions>().Bind(builder.Configuration.GetSection("Tora:Events"));
builder.Services.AddOptions<IdempotencyOptions>().Bind(builder.Configuration.GetSection("Tora:Idempotency"));
builder.Services.AddHostedService<GenerationSweeper>();
builder.Services.AddHostedService<WebhookDispatcher>();
// The API runs the light jobs itself (webhook deliveries, retention); GPU jobs run only in workers, on their model
// queues. Tora:Api:RunJobServer=false makes an instance serve requests only (another instance runs these jobs).
if (apiOptions.RunJobServer)
    builder.Services.AddHangfireServer(o =>
    {
        o.Queues = [IWebhookDeliveryJob.Queue, IRetentionJob.Queue];
        // Deliveries mostly wait on receivers (up to the attempt timeout each), so more workers than cores.
        o.WorkerCount = apiOptions.JobWorkers;
        o.ServerName = $"api-{Environment.MachineName}-{Environment.ProcessId}";
        // Webhook retries are scheduled jobs: move them to their queue promptly once due.
        o.SchedulePollingInterval = TimeSpan.FromSeconds(1);
    });
builder.Services.AddToraSwagger();

var app = builder.Build();

await DatabaseMigrator.MigrateAsync(app.Services.GetRequiredService<NpgsqlDataSource>());
QueueMetrics.Register(app.Services);
app.Services.GetRequiredService<IRecurringJobManager>().AddOrUpdate<IRetentionJob>(IRetentionJob.RecurringId, IRetentionJob.Queue,
    j => j.RunAsync(CancellationToken.None), app.Services.GetRequiredService<IOptions<RetentionOptions>>().Value.Schedule);

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseHttpMetrics();
app.UseAuthentication();
app.UseAuthorization();

app.UseSwagger();
app.UseSwaggerUI(o =>
{
    o.SwaggerEndpoint($"/swagger/{SwaggerSetup.DocumentName}/swagger.json", "Tora.Server API v1");
    o.EnablePersistAuthorization();
});

app.MapWebPage();
app.MapGenerationsApi();
app.MapGenerationEventsApi();
app.MapWebhooksApi();
app.MapKeysApi();
app.MapUsageApi();
app.MapModelsApi();
app.MapTrajectoriesApi();
app.MapBenchInsertEndpoint();
app.MapHealthApi();
app.MapMetrics("/metrics");
// Admin keys only: the dashboard can delete and re-run jobs. Hangfire's own filter would allow local requests
// only; the endpoint's authorization policy replaces it.
app.MapHangfireDashboard("/hangfire", new DashboardOptions { Authorization = [], AppPath = "/swagger", DashboardTitle = "Tora.Server jobs" })
    .RequireAuthorization("admin");

app.Run();

/// <summary>The API's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
