using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Tora.Api.Problems;
using Tora.Core.Tenancy;

namespace Tora.Api.Auth;

/// <summary>
/// <c>Authorization: Bearer tora_…</c> authentication against the hashed keys in PostgreSQL. Lookups are cached
/// for a short time (a revoked key stops working within <see cref="CacheFor"/>), so a busy client costs no
/// database round trip per request.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeyStore keys, IMemoryCache cache)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme name.</summary>
    public const string SchemeName = "Bearer";
    /// <summary>Claim type of the tenant.</summary>
    public const string TenantClaim = "tora:tenant";
    /// <summary>Role of admin keys.</summary>
    public const string AdminRole = "admin";
    /// <summary>How long a lookup result is reused.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header)) return AuthenticateResult.NoResult();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return AuthenticateResult.Fail("the Authorization header must be 'Bearer <api key>'");
        var key = header["Bearer ".Length..].Trim();
        var cacheKey = "apikey:" + Convert.ToHexString(ApiKeyStore.Hash(key));
        if (!cache.TryGetValue(cacheKey, out ApiKeyOwner? owner))
        {
            owner = await keys.FindAsync(key, Context.RequestAborted);
            cache.Set(cacheKey, owner, owner is null ? TimeSpan.FromSeconds(2) : CacheFor);
        }
        if (owner is null) return AuthenticateResult.Fail("the API key is not valid");
        var claims = new List<Claim> { new(TenantClaim, owner.Tenant), new(ClaimTypes.NameIdentifier, owner.KeyId.ToString()) };
        if (owner.IsAdmin) claims.Add(new Claim(ClaimTypes.Role, AdminRole));
        return AuthenticateResult.Success(new AuthenticationTicket(
            new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    /// <inheritdoc />
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure;
        Response.Headers.WWWAuthenticate = "Bearer";
        var detail = failure?.Message ?? "send an API key as 'Authorization: Bearer <key>' (create one with 'tora keys create --tenant NAME')";
        await ApiProblem.Create(StatusCodes.Status401Unauthorized, "unauthorized", "Authentication is required.", detail)
            .ExecuteAsync(Context);
    }

    /// <inheritdoc />
    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        await ApiProblem.Create(StatusCodes.Status403Forbidden, "forbidden", "This key may not do that.",
            "an admin key is required").ExecuteAsync(Context);
}

/// <summary>Reads the caller's tenant.</summary>
public static class TenantExtensions
{
    /// <summary>The authenticated tenant (the endpoint requires authentication, so it is always there).</summary>
    public static string Tenant(this ClaimsPrincipal user) =>
        user.FindFirstValue(ApiKeyAuthenticationHandler.TenantClaim) ?? throw new InvalidOperationException("no tenant claim");
}
