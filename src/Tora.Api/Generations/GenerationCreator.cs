using Microsoft.Extensions.Options;
using Tora.Api.Problems;
using Tora.Core;
using Tora.Core.Blobs;
using Tora.Core.Database;
using Tora.Core.Generations;
using Tora.Core.Jobs;
using Tora.Core.Webhooks;

namespace Tora.Api.Generations;

/// <summary>A create request as read from HTTP: who asks, what, with which files, under which key, waiting how long.</summary>
/// <param name="Tenant">The caller's tenant.</param>
/// <param name="Request">The parsed body.</param>
/// <param name="Image">The first frame, when given.</param>
/// <param name="FlowVideo">The flow video MP4 (multipart part <c>flow_video</c>), when given.</param>
/// <param name="IdempotencyKey">The <c>Idempotency-Key</c>, when given.</param>
/// <param name="WaitSeconds">The <c>Prefer: wait</c> seconds (0: answer at once).</param>
public sealed record GenerationSubmission(
    string Tenant, CreateGenerationRequest Request, FirstFrameImage? Image, byte[]? FlowVideo, string? IdempotencyKey, int WaitSeconds);

/// <summary>What became of a <see cref="GenerationSubmission"/>; the handler turns each case into one HTTP answer.</summary>
public abstract record CreateOutcome
{
    private CreateOutcome() { }

    /// <summary>The request is invalid (nothing stored, no idempotency record).</summary>
    public sealed record Invalid(IReadOnlyList<FieldError> Errors) : CreateOutcome;

    /// <summary>A request with the same Idempotency-Key is still being processed.</summary>
    public sealed record KeyInFlight : CreateOutcome;

    /// <summary>The Idempotency-Key was used with another payload.</summary>
    public sealed record KeyReused : CreateOutcome;

    /// <summary>A retry of an earlier request: its generation (null when it has since been deleted).</summary>
    public sealed record Replayed(Guid Id, GenerationResource? Resource) : CreateOutcome;

    /// <summary>The tenant has <paramref name="MaxQueued"/> generations queued already.</summary>
    public sealed record TooManyQueued(string Tenant, int MaxQueued) : CreateOutcome;

    /// <summary>
    /// Committed. <paramref name="Finished"/> when the generation reached a terminal status within the
    /// <paramref name="WaitedSeconds"/> of <c>Prefer: wait</c> (0 when the request did not ask to wait).
    /// </summary>
    public sealed record Accepted(GenerationResource Resource, bool Finished, int WaitedSeconds) : CreateOutcome;
}

/// <summary>
/// The accept path of <c>POST /v1/generations</c> (docs/architecture.md §3, steps 3 and 4): validate, reserve the
/// Idempotency-Key, check the tenant's queued cap, store the first frame and flow video, commit the row (the outbox)
/// with the key in one statement, wake the dispatcher, and hold the answer for <c>Prefer: wait</c>.
/// </summary>
public sealed class GenerationCreator(
    GenerationStore store, IdempotencyStore idempotency, IBlobStore blobs, GenerationDispatcher dispatcher, GenerationEventHub hub,
    WebhookTargetPolicy webhookPolicy, IOptions<ModelCatalogOptions> catalog, IOptions<RetentionOptions> retention,
    IOptions<LimitOptions> limits, IOptions<IdempotencyOptions> idempotencyOptions, AcceptedQueuePosition acceptedPosition)
{
    /// <summary>Validates and accepts a submission.</summary>
    public async Task<CreateOutcome> CreateAsync(GenerationSubmission submission, CancellationToken ct)
    {
        var (tenant, request, image, flowVideo, key, wait) = submission;
        var (input, model, errors) = GenerationRequestValidator.Resolve(request, catalog.Value, image is not null, webhookPolicy, retention.Value);
        // Invalid requests are answered the same way every time, so they need no idempotency record.
        if (input is null) return new CreateOutcome.Invalid(errors);
        if (flowVideo is not null)
        {
            if (await FlowVideoUpload.CheckAsync(flowVideo, input, ct) is { } flowError) return new CreateOutcome.Invalid([flowError]);
            input = input with { HasFlowVideo = true };
        }

        IdempotencyReservation? reservation = null;
        if (key is not null)
        {
            var fingerprint = IdempotencyKey.Fingerprint(request, image, flowVideo);
            var (state, previous) = await idempotency.ReserveAsync(tenant, key, fingerprint, idempotencyOptions.Value.Lifetime, ct);
            switch (state)
            {
                case IdempotencyState.InFlight: return new CreateOutcome.KeyInFlight();
                case IdempotencyState.Mismatch: return new CreateOutcome.KeyReused();
                case IdempotencyState.Replay:
                    var earlier = await store.GetAsync(tenant, previous!.Value, ct);
                    return new CreateOutcome.Replayed(previous.Value, earlier is null ? null : await ResourceAsync(earlier, ct));
            }
            reservation = new IdempotencyReservation(tenant, key, fingerprint);
        }

        var maxQueued = limits.Value.MaxQueuedFor(tenant);
        if (maxQueued > 0 && await store.CountQueuedAsync(tenant, ct) >= maxQueued)
        {
            if (reservation is not null) await idempotency.TryReleaseAsync(reservation);
            return new CreateOutcome.TooManyQueued(tenant, maxQueued);
        }

        var id = GenerationIds.Next();
        // Subscribed before the insert, so that no change between the commit and the first wait is missed.
        using var subscription = wait > 0 ? hub.Subscribe(id) : null;
        var generation = new Generation
        {
            Id = id,
            Tenant = tenant,
            Status = GenerationStatus.Queued,
            Queue = model!.Queue,
            Input = input,
            FirstFrameKey = image is null ? null : BlobKeys.For(tenant, id, "first-frame." + image.Extension),
            CreatedAt = DateTimeOffset.UtcNow,
            TotalSteps = input.Steps,
        };
        if (!await StoreAsync(generation, image, flowVideo, reservation, ct)) return new CreateOutcome.KeyInFlight();
        dispatcher.Signal(generation.Queue);
        if (subscription is null) return new CreateOutcome.Accepted(await AcceptedResourceAsync(generation, ct), false, 0);
        return await WaitAsync(generation, subscription, wait, ct);
    }

    /// <summary>
    /// Stores the files, then commits the row and its key together; false when another request with the same key
    /// took the reservation over meanwhile (this one was that slow): that one creates the generation, a retry replays it.
    /// </summary>
    private async Task<bool> StoreAsync(Generation g, FirstFrameImage? image, byte[]? flowVideo, IdempotencyReservation? reservation, CancellationToken ct)
    {
        try
        {
            if (image is not null) await blobs.PutBytesAsync(g.FirstFrameKey!, image.Bytes, image.ContentType, ct);
            if (flowVideo is not null) await blobs.PutBytesAsync(Generation.FlowVideoKeyOf(g.Tenant, g.Id), flowVideo, "video/mp4", ct);
            // Nothing after the commit may fail the request any more (the answer is 2xx from there on: a database
            // outage during Prefer: wait only ends the wait).
            if (await store.InsertAsync(g, reservation, ct)) return true;
            if (g.FirstFrameKey is { } imageKey) await blobs.DeleteAsync(imageKey, CancellationToken.None);
            if (flowVideo is not null) await blobs.DeleteAsync(Generation.FlowVideoKeyOf(g.Tenant, g.Id), CancellationToken.None);
            return false;
        }
        catch when (reservation is not null)
        {
            // Not committed (or not known to be: then the key is completed and release does nothing), so the key is freed
            // for the client's retry; if the database is unreachable it lapses by itself.
            await idempotency.TryReleaseAsync(reservation);
            throw;
        }
    }

    /// <summary><c>Prefer: wait</c>: the finished generation when it ends within <paramref name="wait"/> seconds, else the latest.</summary>
    private async Task<CreateOutcome> WaitAsync(Generation generation, GenerationEventHub.Subscription subscription, int wait, CancellationToken ct)
    {
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(wait);
            while (true)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) break;
                await subscription.WaitAsync(left, ct);
                if (await store.GetAsync(generation.Tenant, generation.Id, ct) is not { } now) break;
                if (GenerationStatus.IsTerminal(now.Status)) return new CreateOutcome.Accepted(now.ToResource(), true, wait);
            }
            var latest = await store.GetAsync(generation.Tenant, generation.Id, ct);
            return new CreateOutcome.Accepted(latest is null ? generation.ToResource() : await ResourceAsync(latest, ct), false, wait);
        }
        catch (Exception e) when (DatabaseOutage.IsOutage(e))
        {
            // Accepted and committed: the outage only ends the wait, it must not turn an accepted generation into a 503.
            return new CreateOutcome.Accepted(generation.ToResource(), false, wait);
        }
    }

    /// <summary>
    /// The 202 body of a committed generation with the queue position a GET would show (null on a long queue, see
    /// <see cref="AcceptedQueuePosition"/>). Committed means accepted: a database outage while
    /// counting the queue leaves the position unknown (null) instead of failing the request.
    /// </summary>
    private async Task<GenerationResource> AcceptedResourceAsync(Generation g, CancellationToken ct)
    {
        try
        {
            return g.ToResource(await acceptedPosition.OfAsync(g, ct));
        }
        catch (Exception e) when (DatabaseOutage.IsOutage(e))
        {
            return g.ToResource();
        }
    }

    private async Task<GenerationResource> ResourceAsync(Generation g, CancellationToken ct) =>
        g.ToResource(g.Status == GenerationStatus.Queued ? await store.QueuePositionAsync(g.Queue, g.Id, ct) : null);
}
