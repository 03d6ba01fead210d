using Hangfire;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using Tora.Core;
using Tora.Core.Database;
using Tora.Core.Jobs;
using Tora.Core.Observability;
using Tora.Inference;
using Tora.Inference.Pipeline;

namespace Tora.Worker;

/// <summary>Builds a worker process: generic host, one Hangfire server with one worker thread on one model's queue.</summary>
public static class WorkerHost
{
    /// <summary>
    /// Registers every service of a worker process on <paramref name="builder"/>: the shared core, tracing, the typed
    /// <see cref="WorkerOptions"/> (validated at start), the video generator, the job and its parts, the heartbeat,
    /// the Hangfire server on the model's queue and, when a port is set, the worker's own HTTP endpoint.
    /// </summary>
    public static HostApplicationBuilder AddToraWorker(this HostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var connectionString = configuration.GetToraConnectionString();
        var services = builder.Services;

        services.AddToraCore(configuration, "tora-worker");
        services.AddToraTracing(configuration, "tora-worker");
        services.AddOptions<WorkerOptions>().Bind(configuration.GetSection(WorkerOptions.Section))
            .Validate(o => o.DeviceIndex >= 0, "Tora:Worker:DeviceIndex must be 0 or more")
            .Validate(o => o.JobInvisibilityTimeout >= TimeSpan.FromSeconds(5), "Tora:Worker:JobInvisibilityTimeout must be at least 5 seconds")
            .Validate(o => o.MetricsPort is >= 0 and <= 65535, "Tora:Worker:MetricsPort must be a port number or 0")
            .Validate(o => o.StorageRetryWindow >= TimeSpan.Zero, "Tora:Worker:StorageRetryWindow must not be negative")
            .ValidateOnStart();
        services.AddOptions<ModelCatalogOptions>()
            .Validate<IOptions<WorkerOptions>>((catalog, worker) => catalog.Find(worker.Value.Model) is not null,
                "Tora:Worker:Model names a model that is not in Tora:Models");

        services.AddSingleton<IVideoGenerator>(CreateGenerator);
        services.AddTransient<IGenerationJob, GenerationJob>();
        services.AddTransient<StoredInputReader>();
        services.AddTransient<VideoPublisher>();
        services.AddTransient<OutcomeRecorder>();
        services.AddHostedService<WorkerHeartbeat>();

        services.AddHangfire((sp, c) => c.UseToraStorage(connectionString, Options(sp).JobInvisibilityTimeout));
        services.AddHangfireServer((sp, o) =>
        {
            var worker = Options(sp);
            // One job at a time per process: the process owns one GPU and one set of warm ONNX sessions (docs/architecture.md §4).
            o.WorkerCount = 1;
            o.Queues = [ModelDefinition.QueueFor(worker.Model)];
            o.ServerName = worker.ResolvedName;
            // Hangfire checks for deleted jobs this often; the job's token then stops the pipeline between steps.
            o.CancellationCheckInterval = TimeSpan.FromSeconds(1);
            o.ShutdownTimeout = TimeSpan.FromSeconds(30);
            // Retries are scheduled jobs: move them back to their queue promptly once their delay is over.
            o.SchedulePollingInterval = TimeSpan.FromSeconds(2);
        });
        // The host must wait longer than Hangfire's shutdown so cancellation reaches running jobs (Hangfire issue #2026).
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(45));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<WorkerHealth>();
        services.AddHostedService<WorkerStatusServer>();
        return builder;
    }

    /// <summary>A host builder with <see cref="AddToraWorker"/> applied; <paramref name="settings"/> override configuration (tests).</summary>
    public static HostApplicationBuilder CreateBuilder(string[] args, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder(args);
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        return builder.AddToraWorker();
    }

    private static WorkerOptions Options(IServiceProvider services) => services.GetRequiredService<IOptions<WorkerOptions>>().Value;

    /// <summary>
    /// The ONNX Tora pipeline over the configured model package, or <see cref="UnavailableVideoGenerator"/> when no
    /// package is configured (it then says so in every heartbeat). A package that fails to open gives a generator
    /// that is not ready and says why.
    /// </summary>
    private static IVideoGenerator CreateGenerator(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<WorkerOptions>>();
        if (options.Value.ResolvedModelPackage is not { } package) return new UnavailableVideoGenerator(options);
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Tora.Pipeline");
        return new ToraVideoGenerator(options.Value.Model, package, new ExecutionOptions
        {
            DeviceId = options.Value.DeviceIndex,
            LowMemory = options.Value.LowMemory,
            VaeTiling = options.Value.VaeTiling,
            Log = message => logger.LogInformation("{Message}", message),
        });
    }

    /// <summary>Applies migrations, then runs the host until stopped.</summary>
    public static async Task RunAsync(IHost host, CancellationToken cancellationToken = default)
    {
        await DatabaseMigrator.MigrateAsync(host.Services.GetRequiredService<NpgsqlDataSource>(), cancellationToken);
        await host.RunAsync(cancellationToken);
    }
}
