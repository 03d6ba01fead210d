using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Tora.Core.Observability;

/// <summary>
/// One trace per generation with OpenTelemetry: the API's request span, whose W3C trace context is stored with the
/// generation (<c>generations.traceparent</c>), continued by the worker (a span per run and per pipeline phase) and by
/// each webhook delivery. Exported over OTLP as configured by the standard <c>OTEL_*</c> variables; off (no
/// listener, no cost) unless <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c> is set,
/// or <c>Tora:Tracing:Enabled</c> (tests, with their own exporter).
/// </summary>
public static class ToraTracing
{
    /// <summary>The activity source of the service's own spans.</summary>
    public const string SourceName = "Tora.Server";

    /// <summary>Starts the service's spans.</summary>
    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>Whether tracing is configured.</summary>
    public static bool IsEnabled(IConfiguration configuration) =>
        !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
        || !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
        || configuration.GetSection(TracingOptions.Section).Get<TracingOptions>()?.Enabled == true;

    /// <summary>
    /// Registers the tracer provider when tracing is configured: this service's spans, <paramref name="configure"/>'s
    /// instrumentation, and the OTLP exporter when an OTLP endpoint is set. Returns whether it did.
    /// </summary>
    public static bool AddToraTracing(this IServiceCollection services, IConfiguration configuration, string serviceName,
        Action<TracerProviderBuilder>? configure = null)
    {
        if (!IsEnabled(configuration)) return false;
        var otlp = !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]) || !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(configuration["OTEL_SERVICE_NAME"] ?? serviceName))
            .WithTracing(b =>
            {
                b.AddSource(SourceName);
                configure?.Invoke(b);
                if (otlp) b.AddOtlpExporter();
            });
        return true;
    }

    /// <summary>The current span's W3C <c>traceparent</c>, to store with a generation (null when nothing is traced).</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } a ? a.Id : null;

    /// <summary>The span context of a stored <c>traceparent</c> (default, i.e. a new trace, when there is none).</summary>
    public static ActivityContext ParentOf(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, out var context) ? context : default;

    /// <summary>
    /// Records a span that is already over (a pipeline phase, known from the progress reports once the next one
    /// begins): started and stopped at once with its real start and end times.
    /// </summary>
    public static void RecordSpan(string name, ActivityContext parent, DateTimeOffset start, DateTimeOffset end, params (string Key, object? Value)[] tags)
    {
        using var span = Source.StartActivity(name, ActivityKind.Internal, parent, startTime: start);
        if (span is null) return;
        foreach (var (key, value) in tags) span.SetTag(key, value);
        span.SetEndTime(end.UtcDateTime);
    }
}

/// <summary>Tracing settings. Bound from <c>Tora:Tracing</c>; the exporter itself is configured by the standard <c>OTEL_*</c> variables.</summary>
public sealed class TracingOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Tracing";

    /// <summary>Trace without an OTLP endpoint (tests register their own exporter).</summary>
    public bool Enabled { get; set; }
}
