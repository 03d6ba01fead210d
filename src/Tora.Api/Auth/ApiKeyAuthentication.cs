using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Tora.Api.Problems;
using Tora.Core.Tenancy;

namespace Tora.Api.Auth;

/// <summary>
/// <c>Authorization: Bearer tora_…</c> authentication against the hashed keys in PostgreSQL. Lookups are cached
/// by <see cref="ApiKeyCache"/> (a revoked or expired key stops working on every instance within moments), so a busy
/// client costs no database round trip per request.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeyStore keys, ApiKeyCache cache)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme name.</summary>
    public const string SchemeName = "Bearer";
    /// <summary>Claim type of the tenant.</summary>
    public const string TenantClaim = "tora:tenant";
    /// <summary>Role of admin keys.</summary>
    public const string AdminRole = "admin";

    /// <inheritdoc />
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header)) return AuthenticateResult.NoResult();
        string key;
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) key = header["Bearer ".Length..].Trim();
        else if (IsDashboard && TryBasicPassword(header, out var password)) key = password;
        else return AuthenticateResult.Fail("the Authorization header must be 'Bearer <api key>'");
        var hash = Convert.ToHexString(ApiKeyStore.Hash(key));
        if (!cache.TryGet(hash, out var owner))
        {
            owner = await keys.FindAsync(key, Context.RequestAborted);
            cache.Set(hash, owner);
        }
        if (owner is null) return AuthenticateResult.Fail("the API key is not valid (unknown, revoked or expired)");
        var claims = new List<Claim> { new(TenantClaim, owner.Tenant), new(ClaimTypes.NameIdentifier, owner.KeyId.ToString()) };
        if (owner.IsAdmin) claims.Add(new Claim(ClaimTypes.Role, AdminRole));
        return AuthenticateResult.Success(new AuthenticationTicket(
            new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }

    /// <summary>
    /// The Hangfire dashboard is opened in a browser, which cannot send a bearer header: there the key is also
    /// accepted as the password of HTTP Basic authentication (any user name), so the browser's own prompt works.
    /// </summary>
    private bool IsDashboard => Request.Path.StartsWithSegments("/hangfire");

    private static bool TryBasicPassword(string header, out string password)
    {
        password = "";
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
        Span<byte> bytes = stackalloc byte[512];
        if (!Convert.TryFromBase64String(header["Basic ".Length..].Trim(), bytes, out var n)) return false;
        var text = System.Text.Encoding.UTF8.GetString(bytes[..n]);
        var colon = text.IndexOf(':');
        if (colon < 0) return false;
        password = text[(colon + 1)..];
        return true;
    }

    /// <inheritdoc />
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure;
        Response.Headers.WWWAuthenticate = IsDashboard ? "Basic realm=\"Tora.Server jobs (user: any, password: an admin API key)\", Bearer" : "Bearer";
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
