using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Tora.Core.Generations;
using Tora.Core.Jobs;

namespace Tora.Api.Tests;

[Collection(ServiceCollection.Name)]
public sealed class RetentionTests(ServiceFixture service)
{
    [Fact]
    public async Task An_expired_result_is_gone_from_the_store_and_marked_expired()
    {
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "short lived", expires_after = 120 });
        Assert.Equal(120, (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("input").GetProperty("expires_after").GetInt32());
        var location = created.Headers.Location!.ToString();
        var g = await service.WaitForTerminalAsync(alpha, location, TimeSpan.FromSeconds(60));
        Assert.Equal("succeeded", g.GetProperty("status").GetString());
        var finished = g.GetProperty("finished_at").GetDateTimeOffset();
        Assert.Equal(finished.AddSeconds(120), g.GetProperty("expires_at").GetDateTimeOffset(), TimeSpan.FromMilliseconds(1));
        var id = g.GetProperty("id").GetGuid();
        var row = await service.Api.Services.GetRequiredService<GenerationStore>().GetAnyAsync(id, default);
        var files = new[] { row!.VideoKey!, row.ThumbnailKey! }.Select(k => Path.Combine(service.BlobRoot, k)).ToArray();
        Assert.All(files, f => Assert.True(File.Exists(f)));

        // Let it expire now, then run the recurring job as the scheduler would.
        await using (var db = NpgsqlDataSource.Create(service.ConnectionString))
        await using (var cmd = db.CreateCommand($"UPDATE generations SET expires_at = now() - interval '1 second' WHERE id = '{id}'"))
            await cmd.ExecuteNonQueryAsync();
        service.Api.Services.GetRequiredService<IRecurringJobManager>().Trigger(IRetentionJob.RecurringId);

        JsonElement after;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            await Task.Delay(100);
            after = await alpha.GetFromJsonAsync<JsonElement>(location);
        } while (after.GetProperty("status").GetString() != "expired" && DateTime.UtcNow < deadline);
        Assert.Equal("expired", after.GetProperty("status").GetString());
        Assert.All(files, f => Assert.False(File.Exists(f), f));
        var video = await alpha.GetAsync(location + "/video");
        Assert.Equal(HttpStatusCode.Gone, video.StatusCode);
        Assert.Equal("expired", (await video.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_retention_below_the_minimum_is_refused_with_a_pointer_to_expires_after()
    {
        using var alpha = service.Client(service.AlphaKey);
        var bad = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "x", expires_after = 10 });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        Assert.Equal("/expires_after", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors")[0].GetProperty("pointer").GetString());
    }
}
