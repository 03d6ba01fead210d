using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using Tora.Api.Auth;
using Tora.Api.Problems;
using Tora.Core;

namespace Tora.Api.Limits;

/// <summary>
/// Per-tenant token buckets for the expensive endpoints: a bucket holds a minute's allowance and refills
/// continuously, so short bursts pass and a steady flood is held to the rate. Each API instance keeps its own
/// buckets (the limit is per instance; the queued cap in the database is the global backstop).
/// </summary>
public sealed class TenantRateLimiter(IOptions<LimitOptions> options, TimeProvider clock)
{
    /// <summary>The policy name in the RateLimit headers.</summary>
    public const string PolicyName = "tenant";

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new();

    /// <summary>The outcome of one request.</summary>
    /// <param name="Allowed">Whether it may proceed.</param>
    /// <param name="Limit">Requests per minute.</param>
    /// <param name="Remaining">Requests left now.</param>
    /// <param name="ResetSeconds">Seconds until one more request is allowed (0 when some are left).</param>
    public readonly record struct Decision(bool Allowed, int Limit, int Remaining, int ResetSeconds);

    /// <summary>Takes one token from the tenant's bucket, if it has one.</summary>
    public Decision Acquire(string tenant)
    {
        var limit = options.Value.RequestsPerMinuteFor(tenant);
        if (limit <= 0) return new Decision(true, 0, 0, 0);
        var bucket = _buckets.GetOrAdd(tenant, _ => new Bucket(limit, clock.GetTimestamp()));
        lock (bucket)
        {
            var now = clock.GetTimestamp();
            var perSecond = limit / 60.0;
            bucket.Tokens = Math.Min(limit, bucket.Tokens + clock.GetElapsedTime(bucket.Updated, now).TotalSeconds * perSecond);
            bucket.Updated = now;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return new Decision(true, limit, (int)Math.Floor(bucket.Tokens), bucket.Tokens >= 1 ? 0 : (int)Math.Ceiling((1 - bucket.Tokens) / perSecond));
            }
            return new Decision(false, limit, 0, (int)Math.Ceiling((1 - bucket.Tokens) / perSecond));
        }
    }

    private sealed class Bucket(double tokens, long updated)
    {
        public double Tokens = tokens;
        public long Updated = updated;
    }
}

/// <summary>Applies <see cref="TenantRateLimiter"/> to an endpoint and writes the RateLimit headers.</summary>
public static class RateLimitEndpointExtensions
{
    /// <summary>
    /// Limits the endpoint per tenant. Every answer carries <c>RateLimit-Policy</c> and <c>RateLimit</c>
    /// (draft-ietf-httpapi-ratelimit-headers); a refused request gets 429 with <c>Retry-After</c> and the
    /// problem code <c>rate_limited</c>.
    /// </summary>
    public static TBuilder RequireTenantRateLimit<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (http.User.FindFirstValue(ApiKeyAuthenticationHandler.TenantClaim) is not { } tenant) return await next(context);
            var d = http.RequestServices.GetRequiredService<TenantRateLimiter>().Acquire(tenant);
            if (d.Limit > 0)
            {
                http.Response.Headers["RateLimit-Policy"] = $"\"{TenantRateLimiter.PolicyName}\";q={d.Limit};w=60";
                http.Response.Headers["RateLimit"] = $"\"{TenantRateLimiter.PolicyName}\";r={d.Remaining};t={d.ResetSeconds}";
            }
            if (d.Allowed) return await next(context);
            http.Response.Headers.RetryAfter = Math.Max(1, d.ResetSeconds).ToString(CultureInfo.InvariantCulture);
            return ApiProblem.Create(StatusCodes.Status429TooManyRequests, "rate_limited", "Too many requests.",
                $"tenant {tenant} may make {d.Limit} of these requests a minute; retry after {Math.Max(1, d.ResetSeconds)} s");
        }).ProducesProblem(StatusCodes.Status429TooManyRequests);
}
