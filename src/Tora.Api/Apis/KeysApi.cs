using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tora.Api.OpenApi;
using Tora.Api.Problems;
using Tora.Core.Tenancy;

namespace Tora.Api.Apis;

/// <summary>The body of <c>POST /v1/admin/keys</c>.</summary>
public sealed record CreateApiKeyRequest
{
    /// <summary>The tenant that owns the key (created when missing): 1-64 lowercase letters, digits, <c>-</c> or <c>_</c>.</summary>
    public string? Tenant { get; init; }
    /// <summary>Whether the key is an admin key (manages keys, reads every tenant's usage, opens the Hangfire dashboard).</summary>
    public bool Admin { get; init; }
    /// <summary>Days until the key stops authenticating; omitted: never.</summary>
    public int? ExpiresInDays { get; init; }
    /// <summary>A label (at most 100 characters), e.g. where the key is used.</summary>
    public string? Name { get; init; }
}

/// <summary>A stored API key, never its secret.</summary>
/// <param name="Id">The key's id.</param>
/// <param name="Tenant">The owning tenant.</param>
/// <param name="Prefix">The key's first characters (<c>tora_</c> and 6 more), to recognise it.</param>
/// <param name="Name">Its label.</param>
/// <param name="Admin">Whether it is an admin key.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ExpiresAt">When it stops authenticating (null: never).</param>
/// <param name="LastUsedAt">When it last authenticated a request (to within 30 s).</param>
/// <param name="RevokedAt">When it was revoked.</param>
/// <param name="ReplacedBy">The key that replaced it by rotation.</param>
public sealed record ApiKeyResource(
    Guid Id,
    string Tenant,
    string Prefix,
    string? Name,
    bool Admin,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? RevokedAt,
    Guid? ReplacedBy)
{
    /// <summary>Always <c>api_key</c>.</summary>
    public string Object => "api_key";

    internal static ApiKeyResource From(ApiKeyInfo k) =>
        new(k.Id, k.Tenant, k.Prefix, k.Name, k.IsAdmin, k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt, k.ReplacedBy);
}

/// <summary>A key just created: the only answer that carries its secret.</summary>
/// <param name="Id">The key's id.</param>
/// <param name="Key">The secret (<c>tora_…</c>): shown once, only its SHA-256 is stored.</param>
/// <param name="Tenant">The owning tenant.</param>
/// <param name="Prefix">The key's first characters.</param>
/// <param name="Name">Its label.</param>
/// <param name="Admin">Whether it is an admin key.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ExpiresAt">When it stops authenticating (null: never).</param>
/// <param name="Replaces">For a rotation: the key it replaces, whose <c>expires_at</c> is the end of the grace period.</param>
public sealed record CreatedApiKeyResource(
    Guid Id,
    string Key,
    string Tenant,
    string Prefix,
    string? Name,
    bool Admin,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    ApiKeyResource? Replaces)
{
    /// <summary>Always <c>api_key</c>.</summary>
    public string Object => "api_key";

    internal static CreatedApiKeyResource From(CreatedApiKey k, ApiKeyInfo? replaces) => new(
        k.Info.Id, k.Key, k.Info.Tenant, k.Info.Prefix, k.Info.Name, k.Info.IsAdmin, k.Info.CreatedAt, k.Info.ExpiresAt,
        replaces is null ? null : ApiKeyResource.From(replaces));
}

/// <summary>A list of keys.</summary>
/// <param name="Data">Ordered by tenant, then oldest first.</param>
public sealed record ApiKeyList(IReadOnlyList<ApiKeyResource> Data)
{
    /// <summary>Always <c>list</c>.</summary>
    public string Object => "list";
}

/// <summary>API key lifecycle: admin keys create, list and revoke any tenant's keys; every key can rotate itself.</summary>
public static class KeysApi
{
    private const int MaxNameLength = 100;

    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/v1/admin/keys").WithTags("Keys").RequireAuthorization(ToraApiHosting.AdminPolicy)
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        admin.MapPost("/", Create)
            .WithOperation("CreateApiKey", "Create an API key for a tenant (admin keys only); the secret is in this answer only")
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        admin.MapGet("/", List)
            .WithOperation("ListApiKeys", "List the keys of a tenant, or of every tenant (admin keys only); never a secret");
        admin.MapDelete("/{id}", Revoke)
            .WithOperation("RevokeApiKey", "Revoke a key (admin keys only): every API instance refuses it within 5 seconds")
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapPost("/v1/keys/rotate", Rotate).WithTags("Keys").RequireAuthorization()
            .WithOperation("RotateApiKey", "Replace the calling key by a new one; the calling key keeps working for a grace period")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status409Conflict);
        return app;
    }

    /// <summary>Create a key.</summary>
    public static async Task<Results<Created<CreatedApiKeyResource>, ProblemHttpResult>> Create(
        CreateApiKeyRequest request, ApiKeyStore keys, IOptions<KeyOptions> options, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        if (request.Tenant is null) errors.Add(new("/tenant", "required", "tenant is required"));
        else if (!ApiKeyStore.IsValidTenantName(request.Tenant))
            errors.Add(new("/tenant", "invalid_tenant", "tenant must be 1-64 lowercase letters, digits, '-' or '_'"));
        var maxDays = options.Value.MaxExpiresInDays;
        if (request.ExpiresInDays is { } days && (days < 1 || days > maxDays))
            errors.Add(new("/expires_in_days", "out_of_range", $"expires_in_days must be between 1 and {maxDays}"));
        if (request.Name is { Length: > MaxNameLength })
            errors.Add(new("/name", "too_long", $"name must be at most {MaxNameLength} characters"));
        if (errors.Count > 0) return ApiProblem.Validation(errors);

        DateTimeOffset? expiresAt = request.ExpiresInDays is { } d ? DateTimeOffset.UtcNow.AddDays(d) : null;
        var created = await keys.CreateAsync(request.Tenant!, request.Admin, request.Name, expiresAt, ct);
        return TypedResults.Created($"/v1/admin/keys/{created.Info.Id}", CreatedApiKeyResource.From(created, null));
    }

    /// <summary>List keys.</summary>
    /// <param name="tenant">Only this tenant's keys (omitted: every tenant's).</param>
    /// <param name="keys">The key store.</param>
    /// <param name="ct">Request aborted.</param>
    public static async Task<Ok<ApiKeyList>> List(string? tenant, ApiKeyStore keys, CancellationToken ct) =>
        TypedResults.Ok(new ApiKeyList((await keys.ListAsync(tenant, ct)).Select(ApiKeyResource.From).ToList()));

    /// <summary>Revoke a key.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> Revoke(string id, ApiKeyStore keys, CancellationToken ct) =>
        Guid.TryParse(id, out var keyId) && await keys.RevokeAsync(keyId, ct)
            ? TypedResults.NoContent()
            : ApiProblem.NotFound($"API key {id}");

    /// <summary>Rotate the calling key.</summary>
    public static async Task<Results<Created<CreatedApiKeyResource>, ProblemHttpResult>> Rotate(
        ClaimsPrincipal user, ApiKeyStore keys, IOptions<KeyOptions> options, CancellationToken ct)
    {
        var keyId = Guid.Parse(user.FindFirstValue(ClaimTypes.NameIdentifier)!);
        var rotation = await keys.RotateAsync(keyId, options.Value.RotationGracePeriod, ct);
        if (rotation.Created is not { } created)
            return ApiProblem.Create(StatusCodes.Status409Conflict, "key_already_rotated", "This key was already rotated.",
                "a key rotates once; use the key that replaced it (replaced_by) to rotate again");
        return TypedResults.Created($"/v1/admin/keys/{created.Info.Id}", CreatedApiKeyResource.From(created, rotation.Previous));
    }
}
