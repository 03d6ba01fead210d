using System.Text.Json;
using System.Text.Json.Serialization;
using Hangfire;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Trace;
using Prometheus;
using Tora.Api.Apis;
using Tora.Api.Auth;
using Tora.Api.Bench;
using Tora.Api.Generations;
using Tora.Api.Limits;
using Tora.Api.Observability;
using Tora.Api.OpenApi;
using Tora.Api.Problems;
using Tora.Core;
using Tora.Core.Database;
using Tora.Core.Jobs;
using Tora.Core.Observability;
using Tora.Core.Tenancy;
using Tora.Core.Webhooks;

namespace Tora.Api;

/// <summary>
/// The API process in two calls: <see cref="AddToraApi"/> registers its services and settings,
/// <see cref="UseToraApiAsync"/> migrates the database and maps the middleware and endpoints (docs/architecture.md §1).
/// </summary>
public static class ToraApiHosting
{
    /// <summary>The authorization policy of admin-only endpoints (admin keys).</summary>
    public const string AdminPolicy = "admin";

    /// <summary>Registers everything the API serves with: core services, options, authentication, jobs, hosted loops, Swagger.</summary>
    public static WebApplicationBuilder AddToraApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var configuration = builder.Configuration;
        // One body limit for every endpoint, set here on purpose (Kestrel's default is 30 MB): 16 MB, what the largest
        // request needs (a 10 MB first frame as base64 plus the rest). A declared Content-Length over it is refused before
        // reading; a chunked body is cut off once it passes it. Either way 413 payload_too_large, memory bounded by the cap.
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = CreateRequestReader.MaxBodyBytes);
        services.AddToraCore(configuration, "tora-api");
        services.AddToraProblems();
        // One trace per generation (OTLP by the standard OTEL_* variables; off when unset): the request span is the root.
        services.AddToraTracing(configuration, "tora-api", t => t.AddAspNetCoreInstrumentation());
        services.AddMemoryCache();
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        });
        services.AddSingleton(TimeProvider.System);

        var api = AddApiOptions(services, configuration);
        AddAuthentication(services);
        services.AddSingleton<TenantRateLimiter>();
        services.AddSingleton<GenerationEventHub>();
        services.AddSingleton<AcceptedQueuePosition>();
        services.AddHostedService(sp => sp.GetRequiredService<GenerationEventHub>());
        services.AddSingleton<GenerationCreator>();
        services.AddSingleton<GenerationCanceller>();
        AddJobs(services, configuration, api);
        services.AddToraSwagger();
        return builder;
    }

    /// <summary>Migrates the database, schedules retention, and maps the middleware and every endpoint.</summary>
    public static async Task<WebApplication> UseToraApiAsync(this WebApplication app)
    {
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
            .RequireAuthorization(AdminPolicy);
        return app;
    }

    /// <summary>The API's own settings, each bound from its section and validated at start-up; returns the instance's.</summary>
    private static ApiOptions AddApiOptions(IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ApiOptions>().Bind(configuration.GetSection(ApiOptions.Section))
            .Validate(o => o.JobWorkers >= 1, "Tora:Api:JobWorkers must be at least 1")
            .Validate(o => o.JobInvisibilityTimeout > TimeSpan.Zero, "Tora:Api:JobInvisibilityTimeout must be positive")
            .ValidateOnStart();
        services.AddOptions<KeyOptions>().Bind(configuration.GetSection(KeyOptions.Section));
        services.AddOptions<BenchOptions>().Bind(configuration.GetSection(BenchOptions.Section));
        services.AddOptions<EventStreamOptions>().Bind(configuration.GetSection(EventStreamOptions.Section))
            .Validate(o => o.HeartbeatInterval > TimeSpan.Zero, "Tora:Events:HeartbeatInterval must be positive").ValidateOnStart();
        services.AddOptions<IdempotencyOptions>().Bind(configuration.GetSection(IdempotencyOptions.Section))
            .Validate(o => o.Lifetime > TimeSpan.Zero, "Tora:Idempotency:Lifetime must be positive").ValidateOnStart();
        // The Hangfire registrations need the values while the services are being built.
        return configuration.GetSection(ApiOptions.Section).Get<ApiOptions>() ?? new ApiOptions();
    }

    private static void AddAuthentication(IServiceCollection services)
    {
        services.AddSingleton<ApiKeyCache>();
        services.AddHostedService<ApiKeyChangeListener>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicy, p => p.RequireAuthenticatedUser().RequireRole(ApiKeyAuthenticationHandler.AdminRole));
    }

    /// <summary>
    /// Generation jobs are created by the dispatcher and run by workers; the API runs the light jobs itself (webhook
    /// deliveries, retention) unless <see cref="ApiOptions.RunJobServer"/> is off (another instance runs them).
    /// </summary>
    private static void AddJobs(IServiceCollection services, IConfiguration configuration, ApiOptions api)
    {
        services.AddHangfire(c => c.UseToraStorage(configuration.GetToraConnectionString(), api.JobInvisibilityTimeout));
        services.AddSingleton<GenerationDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<GenerationDispatcher>());
        services.AddHostedService<GenerationSweeper>();
        services.AddHostedService<WebhookDispatcher>();
        if (!api.RunJobServer) return;
        services.AddHangfireServer(o =>
        {
            o.Queues = [IWebhookDeliveryJob.Queue, IRetentionJob.Queue];
            // Deliveries mostly wait on receivers (up to the attempt timeout each), so more workers than cores.
            o.WorkerCount = api.JobWorkers;
            o.ServerName = $"api-{Environment.MachineName}-{Environment.ProcessId}";
            // Webhook retries are scheduled jobs: move them to their queue promptly once due.
            o.SchedulePollingInterval = TimeSpan.FromSeconds(1);
        });
    }
}
