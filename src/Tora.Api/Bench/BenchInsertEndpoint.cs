using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Tora.Api.Generations;
using Tora.Api.Problems;
using Tora.Core;
using Tora.Core.Generations;

namespace Tora.Api.Bench;

/// <summary>
/// The load test's reference endpoint (bench/load): the same body reading and validation as
/// <c>POST /v1/generations</c>, then one INSERT and nothing else (no authentication, no outbox row). Mapped only
/// when <c>Tora:Bench:InsertEndpoint</c> is true, and never part of the published API.
/// </summary>
public static class BenchInsertEndpoint
{
    /// <summary>The queue of the rows it inserts, which no model has.</summary>
    public const string Queue = "bench-insert";

    /// <summary>Maps <c>POST /bench/insert</c> when enabled by configuration.</summary>
    public static void MapBenchInsertEndpoint(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<BenchOptions>>().Value.InsertEndpoint) return;
        app.MapPost("/bench/insert", Insert).AllowAnonymous().ExcludeFromDescription();
    }

    private static async Task<Results<Accepted<Guid>, ProblemHttpResult>> Insert(
        HttpRequest http, NpgsqlDataSource db, IOptions<ModelCatalogOptions> catalog, CancellationToken ct)
    {
        var (request, image, _, problem) = await CreateRequestReader.ReadAsync(http, ct);
        if (problem is not null) return problem;
        var (input, _, errors) = GenerationRequestValidator.Resolve(request!, catalog.Value, image is not null);
        if (input is null) return ApiProblem.Validation(errors);
        var id = GenerationIds.Next();
        // Marked dispatched, in a queue of its own, so neither the dispatcher nor any model queue's counts (room for
        // releases, queue positions) ever see the row: this is the INSERT alone.
        await using var cmd = db.CreateCommand("""
            INSERT INTO generations (id, tenant, model, queue, status, input, created_at, total_steps, dispatched_at)
            VALUES ($1, 'bench', $2, $3, 'queued', $4, now(), $5, now())
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = input.Model });
        cmd.Parameters.Add(new() { Value = Queue });
        cmd.Parameters.Add(new() { Value = JsonSerializer.Serialize(input, StoredJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new() { Value = input.Steps });
        await cmd.ExecuteNonQueryAsync(ct);
        return TypedResults.Accepted($"/bench/{id}", id);
    }
}
