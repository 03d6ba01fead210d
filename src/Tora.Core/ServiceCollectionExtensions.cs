using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using Tora.Core.Blobs;
using Tora.Core.Generations;
using Tora.Core.Tenancy;
using Tora.Core.Webhooks;
using Tora.Core.Workers;

namespace Tora.Core;

/// <summary>Registers what both the API and the workers need.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>The connection string name (<c>ConnectionStrings:Tora</c>, or the <c>TORA_DATABASE</c> variable).</summary>
    public const string ConnectionStringName = "Tora";

    /// <summary>Reads the database connection string or explains how to set it.</summary>
    public static string GetToraConnectionString(this IConfiguration configuration) =>
        configuration.GetConnectionString(ConnectionStringName)
        ?? Environment.GetEnvironmentVariable("TORA_DATABASE")
        ?? throw new InvalidOperationException(
            "no database configured: set ConnectionStrings:Tora (environment: ConnectionStrings__Tora) or TORA_DATABASE " +
            "to a PostgreSQL connection string, for example Host=127.0.0.1;Port=55432;Username=postgres;Database=tora");

    /// <summary>Builds the data source with the settings the accept path relies on.</summary>
    public static NpgsqlDataSource CreateDataSource(string connectionString, string applicationName)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        // Auto-preparation saves parsing and planning per statement; skipping DISCARD ALL on pooled reuse saves a
        // round trip per request (docs/architecture.md §8: both showed in the INSERT endpoint's profile).
        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0) builder.ConnectionStringBuilder.MaxAutoPrepare = 32;
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        builder.ConnectionStringBuilder.ApplicationName ??= applicationName;
        return builder.Build();
    }

    /// <summary>Adds the data source, stores, options and the filesystem blob store.</summary>
    public static IServiceCollection AddToraCore(this IServiceCollection services, IConfiguration configuration, string applicationName)
    {
        var connectionString = configuration.GetToraConnectionString();
        services.AddSingleton(_ => CreateDataSource(connectionString, applicationName));
        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.Section))
            .Validate(o => !string.IsNullOrWhiteSpace(o.Root), "Tora:Storage:Root is empty").ValidateOnStart();
        services.AddOptions<ModelCatalogOptions>().Bind(configuration.GetSection(ModelCatalogOptions.Section)).ValidateOnStart()
            .Validate(o => o.Effective.Select(m => m.Name).Distinct().Count() == o.Effective.Count, "Tora:Models has two models with one name")
            .Validate(o => o.Effective.All(m => System.Text.RegularExpressions.Regex.IsMatch(m.Name, "^[a-z0-9][a-z0-9-]{0,40}$")),
                "Tora:Models: a model name must be lowercase letters, digits and '-' (it names a queue)")
            .Validate(o => o.Effective.All(m => m.SizeChoices.Count > 0 && m.FrameChoices.All(f => f > 0) && m.Steps <= m.MaxSteps),
                "Tora:Models: a model has no valid sizes, frame counts or Steps > MaxSteps");
        services.AddSingleton<GenerationStore>();
        services.AddSingleton<UsageStore>();
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<IdempotencyStore>();
        services.AddSingleton<WorkerRegistry>();
        var kind = configuration.GetSection(StorageOptions.Section).Get<StorageOptions>()?.Kind ?? new StorageOptions().Kind;
        if (kind.Equals("s3", StringComparison.OrdinalIgnoreCase))
        {
            services.AddOptions<S3StorageOptions>().Bind(configuration.GetSection(S3StorageOptions.Section))
                .Validate(o => !string.IsNullOrWhiteSpace(o.Bucket), "Tora:Storage:S3:Bucket is empty")
                .Validate(o => o.SignedUrlLifetime > TimeSpan.Zero && o.SignedUrlLifetime <= TimeSpan.FromDays(7),
                    "Tora:Storage:S3:SignedUrlLifetime must be between 0 and 7 days").ValidateOnStart();
            services.AddSingleton<S3BlobStore>();
            services.AddSingleton<IBlobStore>(sp => sp.GetRequiredService<S3BlobStore>());
        }
        else if (kind.Equals("filesystem", StringComparison.OrdinalIgnoreCase))
            services.AddSingleton<IBlobStore, FileSystemBlobStore>();
        else
            throw new InvalidOperationException($"Tora:Storage:Kind '{kind}' is unknown: use filesystem or s3");
        services.AddOptions<WebhookOptions>().Bind(configuration.GetSection(WebhookOptions.Section))
            .Validate(o => o.AttemptTimeout > TimeSpan.Zero && o.RetryDelays.All(d => d > TimeSpan.Zero) && o.MaxInFlightPerEndpoint > 0,
                "Tora:Webhooks: AttemptTimeout, RetryDelays and MaxInFlightPerEndpoint must be positive");
        // The SSRF tests register their own IWebhookNetwork (recording, loopback only): TryAdd keeps one registered
        // before, and one registered after wins anyway.
        services.TryAddSingleton<IWebhookNetwork, SystemWebhookNetwork>();
        services.AddSingleton(sp => new WebhookTargetPolicy(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<WebhookOptions>>().Value, sp.GetRequiredService<IWebhookNetwork>()));
        services.AddSingleton<WebhookStore>();
        services.AddOptions<LimitOptions>().Bind(configuration.GetSection(LimitOptions.Section))
            .Validate(o => o.RequestsPerMinute >= 0 && o.MaxQueuedPerTenant >= 0 && o.MaxRunningPerTenant >= 0, "Tora:Limits must not be negative");
        services.AddOptions<RetentionOptions>().Bind(configuration.GetSection(RetentionOptions.Section))
            .Validate(o => o.Min > TimeSpan.Zero && o.Min <= o.Default && o.Default <= o.Max, "Tora:Retention: need 0 < Min <= Default <= Max");
        services.AddTransient<Tora.Core.Jobs.IRetentionJob, Tora.Core.Jobs.RetentionJob>();
        services.AddSingleton(sp => new WebhookSender(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<WebhookOptions>>(), sp.GetRequiredService<IWebhookNetwork>()));
        services.AddSingleton<WebhookEndpointSlots>();
        services.AddTransient<IWebhookDeliveryJob, WebhookDeliveryJob>();
        return services;
    }
}
