using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Hangfire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tora.Core.Webhooks;

/// <summary>The Hangfire job contract for one delivery attempt (queue <see cref="Queue"/>, run by the API's job server).</summary>
public interface IWebhookDeliveryJob
{
    /// <summary>The Hangfire queue of webhook deliveries.</summary>
    const string Queue = "webhooks";

    /// <summary>Sends attempt <paramref name="attempt"/> (1-based) of an event and schedules the next one on failure.</summary>
    /// <remarks>
    /// Hangfire's own retries are for infrastructure faults only (database unreachable); HTTP failures are retried
    /// by scheduling the next attempt with the configured backoff, so each attempt is one job and one log row.
    /// </remarks>
    [AutomaticRetry(Attempts = 3, DelaysInSeconds = [10, 60, 300])]
    Task DeliverAsync(Guid eventId, int attempt, CancellationToken cancellationToken);
}

/// <summary>The outcome of one HTTP attempt.</summary>
/// <param name="StatusCode">The receiver's status code, when it answered.</param>
/// <param name="Error">Why the attempt failed without a status (timeout, refused target, connection error).</param>
/// <param name="DurationMs">How long it took.</param>
/// <param name="RetryAfter">The receiver's <c>Retry-After</c>, when given.</param>
public sealed record WebhookSendResult(int? StatusCode, string? Error, double DurationMs, TimeSpan? RetryAfter)
{
    /// <summary>2xx.</summary>
    public bool Success => StatusCode is >= 200 and < 300;
}

/// <summary>
/// Sends signed webhook requests (Standard Webhooks headers) through an HTTP client that refuses private targets at
/// connect time, never follows redirects (3xx counts as a failure) and times out each attempt.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    private readonly HttpClient _http;
    private readonly WebhookOptions _options;

    /// <summary>Creates the sender with its own connection pool on the system network.</summary>
    public WebhookSender(IOptions<WebhookOptions> options) : this(options, new SystemWebhookNetwork()) { }

    /// <summary>Creates the sender with its own connection pool; every connection goes through <paramref name="network"/>.</summary>
    public WebhookSender(IOptions<WebhookOptions> options, IWebhookNetwork network)
    {
        _options = options.Value;
        var policy = new WebhookTargetPolicy(_options, network);
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectCallback = policy.ConnectAsync,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            UseProxy = false,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("Tora.Server-Webhooks/1");
    }

    /// <summary>Posts <paramref name="body"/> to <paramref name="url"/> signed with every signing secret.</summary>
    public async Task<WebhookSendResult> SendAsync(string url, string messageId, byte[] body, WebhookSecrets secrets, CancellationToken ct)
    {
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add("webhook-id", messageId);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", WebhookSigner.Header(secrets.Signing(DateTimeOffset.UtcNow), messageId, timestamp, body));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.AttemptTimeout);
        var sw = Stopwatch.StartNew();
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var retryAfter = response.Headers.RetryAfter?.Delta
                ?? (response.Headers.RetryAfter?.Date is { } d ? d - DateTimeOffset.UtcNow : null);
            return new WebhookSendResult((int)response.StatusCode, null, Math.Round(sw.Elapsed.TotalMilliseconds, 1), retryAfter);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new WebhookSendResult(null, $"timeout: no answer within {_options.AttemptTimeout.TotalSeconds:0.#} s", Math.Round(sw.Elapsed.TotalMilliseconds, 1), null);
        }
        catch (HttpRequestException e)
        {
            var refused = e.InnerException as WebhookTargetRefusedException ?? e.InnerException?.InnerException as WebhookTargetRefusedException;
            return new WebhookSendResult(null, refused is not null ? "target_refused: " + refused.Message : "connection_error: " + e.Message,
                Math.Round(sw.Elapsed.TotalMilliseconds, 1), null);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}

/// <summary>
/// One delivery attempt: takes one of its endpoint's slots, claims the attempt number and logs it in flight (a job
/// run twice sends once; a run cut off by a crash is logged as interrupted and the attempt made again), sends, logs
/// the answer, and on failure
/// schedules the next attempt per <see cref="WebhookOptions.EffectiveRetryDelays"/> (honouring a longer
/// <c>Retry-After</c>). 410 Gone stops retrying, as Standard Webhooks recommends.
/// </summary>
public sealed class WebhookDeliveryJob(
    WebhookStore store, Generations.GenerationStore generations, WebhookSender sender, WebhookEndpointSlots endpoints, IBackgroundJobClient jobs, IOptions<WebhookOptions> options,
    ILogger<WebhookDeliveryJob> logger)
    : IWebhookDeliveryJob
{
    /// <summary>How long an attempt waits when its endpoint already has its share of attempts in flight.</summary>
    public static readonly TimeSpan EndpointBusyDelay = TimeSpan.FromSeconds(1);

    /// <summary>Beyond the attempt timeout, how long an attempt may stay in flight before it counts as cut off (recording its answer).</summary>
    public static readonly TimeSpan StaleMargin = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public async Task DeliverAsync(Guid eventId, int attempt, CancellationToken cancellationToken)
    {
        // Everything the request needs is read before the claim, so an attempt logged in flight is one being sent.
        var ev = await store.GetEventAsync(eventId, cancellationToken);
        if (ev is null || ev.State != "pending") return;
        // The body is rendered from the event and its generation (deleting a generation deletes its events too).
        if (await generations.GetAnyAsync(ev.GenerationId, cancellationToken) is not { } generation) return;
        var body = JsonSerializer.SerializeToUtf8Bytes(Generations.GenerationPayloads.Webhook(ev.Type, generation, ev.CreatedAt), Generations.GenerationPayloads.Json);
        var secrets = await store.GetSecretsAsync(ev.Tenant, cancellationToken);
        // A receiver that hangs must not hold every delivery worker: over its share, the attempt waits its turn.
        using var slot = endpoints.TryEnter(ev.Url);
        if (slot is null)
        {
            jobs.Schedule<IWebhookDeliveryJob>(IWebhookDeliveryJob.Queue, j => j.DeliverAsync(eventId, attempt, CancellationToken.None), EndpointBusyDelay);
            return;
        }
        var staleAfter = options.Value.AttemptTimeout + StaleMargin;
        var claim = await store.ClaimAttemptAsync(eventId, attempt, staleAfter, cancellationToken);
        if (claim.InFlight)
            jobs.Schedule<IWebhookDeliveryJob>(IWebhookDeliveryJob.Queue, j => j.DeliverAsync(eventId, attempt, CancellationToken.None), staleAfter);
        if (claim.Made)
        {
            var due = ev.NextAttemptAt is { } at && at > DateTimeOffset.UtcNow ? at - DateTimeOffset.UtcNow : TimeSpan.Zero;
            jobs.Schedule<IWebhookDeliveryJob>(IWebhookDeliveryJob.Queue, j => j.DeliverAsync(eventId, attempt + 1, CancellationToken.None), due);
        }
        if (claim.Attempt is not { } claimed) return;
        attempt = claimed; // the next number when this job's earlier run was cut off mid-attempt
        // Each attempt is a span of the generation's trace (read only while tracing).
        using var span = Observability.ToraTracing.Source.HasListeners()
            ? Observability.ToraTracing.Source.StartActivity("webhook.deliver", System.Diagnostics.ActivityKind.Producer,
                Observability.ToraTracing.ParentOf(generation.TraceParent))
            : null;
        span?.SetTag("tora.webhook.event", ev.Type);
        span?.SetTag("tora.webhook.attempt", attempt);
        span?.SetTag("tora.generation.id", ev.GenerationId.ToString());
        var attemptedAt = DateTimeOffset.UtcNow;
        var result = await sender.SendAsync(ev.Url, ev.MessageId, body, secrets, cancellationToken);
        span?.SetTag("http.response.status_code", result.StatusCode);
        if (!result.Success) span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, result.Error ?? $"HTTP {result.StatusCode}");
        var log = new WebhookAttempt(attempt, attemptedAt, result.StatusCode, result.Error, result.DurationMs);
        var delays = options.Value.EffectiveRetryDelays;
        if (result.Success)
        {
            await store.RecordAttemptAsync(eventId, log, "delivered", null, CancellationToken.None);
            return;
        }
        if (result.StatusCode == (int)HttpStatusCode.Gone || attempt > delays.Count)
        {
            logger.LogWarning("webhook {Event} to {Url}: giving up after attempt {Attempt} ({Status} {Error})", ev.Id, ev.Url, attempt, result.StatusCode, result.Error);
            await store.RecordAttemptAsync(eventId, log, "failed", null, CancellationToken.None);
            return;
        }
        var delay = delays[attempt - 1];
        if (result.RetryAfter is { } ra && ra > delay && ra < TimeSpan.FromDays(1)) delay = ra;
        await store.RecordAttemptAsync(eventId, log, "pending", attemptedAt + delay, CancellationToken.None);
        jobs.Schedule<IWebhookDeliveryJob>(IWebhookDeliveryJob.Queue, j => j.DeliverAsync(eventId, attempt + 1, CancellationToken.None), delay);
    }
}

/// <summary>
/// Limits the attempts in flight to one endpoint (webhook URL) in this process to
/// <see cref="WebhookOptions.MaxInFlightPerEndpoint"/>, so a receiver that hangs until the attempt timeout holds a few
/// delivery workers, not all of them, and other endpoints' deliveries go on (Svix and Stripe isolate endpoints too).
/// </summary>
public sealed class WebhookEndpointSlots(IOptions<WebhookOptions> options)
{
    private readonly Dictionary<string, int> _inFlight = new(StringComparer.Ordinal);

    /// <summary>A slot for <paramref name="url"/> (dispose to give it back), or null when the endpoint has its share.</summary>
    public IDisposable? TryEnter(string url)
    {
        lock (_inFlight)
        {
            var n = _inFlight.GetValueOrDefault(url);
            if (n >= options.Value.MaxInFlightPerEndpoint) return null;
            _inFlight[url] = n + 1;
        }
        return new Slot(this, url);
    }

    private void Leave(string url)
    {
        lock (_inFlight)
            if (--_inFlight[url] == 0) _inFlight.Remove(url);
    }

    private sealed class Slot(WebhookEndpointSlots owner, string url) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Leave(url);
        }
    }
}
