using Microsoft.Extensions.DependencyInjection;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware.Options;
using Tora.Api.Tests;
using Tora.Client.Models;
using Tora.Core.Tenancy;
using Tora.TestSupport;

namespace Tora.Client.Tests;

/// <summary>
/// The Kiota-generated client (clients/csharp) against the real service: every call goes through the generated
/// request builders and models (or the thin hand-written layer for multipart and SSE), never raw HTTP.
/// </summary>
[Collection(ClientServiceCollection.Name)]
public sealed class GeneratedClientTests(ServiceFixture service)
{
    private async Task<ToraClient> ClientAsync(string tenant)
    {
        var key = (await service.Api.Services.GetRequiredService<ApiKeyStore>().CreateAsync(tenant, false, default)).Key;
        return new ToraClient(new Uri("http://localhost"), key, service.Api.Server.CreateHandler());
    }

    private static CreateGenerationRequest Request(string prompt, string model = "tora-tiny", int? numFrames = null) => new()
    {
        Model = model,
        Prompt = prompt,
        NumFrames = numFrames,
        Steps = 3,
        Seed = 7,
        Trajectories =
        [
            new TrajectorySpec { Points = ToraClient.Points((40, 208), (88, 148), (128, 68), (198, 76)), Space = TrajectorySpec_space.Canvas256 },
        ],
    };

    private static async Task<GenerationResource> PollAsync(ToraClient client, Guid id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            var g = (await client.Api.V1.Generations[id.ToString()].GetAsync())!;
            if (g.Status is not ("queued" or "running")) return g;
            Assert.True(DateTime.UtcNow < deadline, $"generation {id} still {g.Status}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Create_replay_poll_download_and_list_through_the_generated_client()
    {
        var client = await ClientAsync("kiota");

        var models = (await client.Api.V1.Models.GetAsync())!;
        var tiny = models.Data!.Single(m => m.Id == "tora-tiny");
        Assert.Contains(49, tiny.Limits!.NumFrames!.Select(n => n!.Value));

        // Create with an Idempotency-Key, then replay it: the same generation, marked as a replay.
        var key = Guid.NewGuid().ToString();
        var first = (await client.Api.V1.Generations.PostAsync(Request("a roller coaster", numFrames: 49), c => c.Headers.Add("Idempotency-Key", key)))!;
        Assert.Equal("queued", first.Status);
        Assert.NotNull(first.QueuePosition);
        var replayHeaders = new HeadersInspectionHandlerOption { InspectResponseHeaders = true };
        var replay = (await client.Api.V1.Generations.PostAsync(Request("a roller coaster", numFrames: 49), c =>
        {
            c.Headers.Add("Idempotency-Key", key);
            c.Options.Add(replayHeaders);
        }))!;
        Assert.Equal(first.Id, replay.Id);
        Assert.Equal("true", replayHeaders.ResponseHeaders["Idempotent-Replayed"].Single());

        var done = await PollAsync(client, first.Id!.Value);
        Assert.Equal("succeeded", done.Status);
        Assert.Null(done.Error);
        Assert.Equal(49, done.Input!.NumFrames);
        Assert.NotNull(done.Reproducibility);

        // The MP4 through the typed method: 49 decoded frames.
        var file = Path.Combine(TestData.TempFolder("kiota-video"), "video.mp4");
        await using (var video = (await client.Api.V1.Generations[first.Id.ToString()!].Video.GetAsync())!)
        await using (var output = File.Create(file))
            await video.CopyToAsync(output);
        var probe = MediaProbe.Probe(file);
        Assert.Equal(49, probe.Frames);
        Assert.Equal((160, 96), (probe.Width, probe.Height));

        await using (var thumbnail = (await client.Api.V1.Generations[first.Id.ToString()!].Thumbnail.GetAsync())!)
        {
            var head = new byte[3];
            await thumbnail.ReadExactlyAsync(head);
            Assert.Equal(new byte[] { 0xFF, 0xD8, 0xFF }, head); // JPEG
        }

        // The events of the finished generation, through the SSE layer: its log, ending with the terminal status.
        var events = new List<GenerationEvent>();
        await foreach (var e in client.StreamEventsAsync(first.Id.Value)) events.Add(e);
        Assert.Contains(events, e => e.Type == "progress");
        Assert.Equal("status", events[^1].Type);
        Assert.Contains("\"succeeded\"", events[^1].Data);

        // Two more (queued: tora-text has no worker), then page through all three and filter by status.
        var queued = new List<Guid>();
        for (var i = 0; i < 2; i++) queued.Add((await client.Api.V1.Generations.PostAsync(Request($"queued {i}", "tora-text")))!.Id!.Value);
        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = (await client.Api.V1.Generations.GetAsync(c =>
            {
                c.QueryParameters.Limit = 2;
                c.QueryParameters.After = cursor is null ? null : Guid.Parse(cursor);
            }))!;
            Assert.True(page.Data!.Count <= 2);
            seen.AddRange(page.Data.Select(g => g.Id!.Value));
            cursor = page.HasMore == true ? page.NextCursor : null;
        } while (cursor is not null);
        Assert.Equal([queued[1], queued[0], first.Id.Value], seen);
        var succeeded = (await client.Api.V1.Generations.GetAsync(c => c.QueryParameters.Status = Tora.Client.V1.Generations.GetStatusQueryParameterType.Succeeded))!;
        Assert.Equal([first.Id.Value], succeeded.Data!.Select(g => g.Id!.Value));

        // Cancel a queued one, delete it; then it is a typed 404 problem.
        var cancelled = (await client.Api.V1.Generations[queued[0].ToString()].Cancel.PostAsync())!;
        Assert.Equal("cancelled", cancelled.Status);
        await client.Api.V1.Generations[queued[0].ToString()].DeleteAsync();
        var gone = await Assert.ThrowsAsync<Problem>(() => client.Api.V1.Generations[queued[0].ToString()].GetAsync());
        Assert.Equal(404, gone.ResponseStatusCode);
        Assert.Equal("not_found", gone.Code);
        Assert.Matches("^[0-9a-f]{32}$", gone.TraceId);
        await client.Api.V1.Generations[queued[1].ToString()].Cancel.PostAsync();
    }

    [Fact]
    public async Task A_first_frame_goes_as_multipart_and_an_invalid_request_is_a_typed_problem_with_its_pointer()
    {
        var client = await ClientAsync("kiota-multipart");
        await using (var png = File.OpenRead(TestData.Path("tora-data/images/fox.png")))
        {
            var created = await client.CreateWithFirstFrameAsync(Request("a fox in the snow"), png, "fox.png", "image/png", Guid.NewGuid().ToString());
            Assert.Equal("queued", created.Status);
            Assert.True(created.Input!.HasFirstFrame);
            Assert.Equal("succeeded", (await PollAsync(client, created.Id!.Value)).Status);
        }

        // A point with three coordinates: 422 validation_failed, read as the generated Problem with the point's pointer.
        var bad = Request("bad point");
        bad.Trajectories![0].Points = new Microsoft.Kiota.Abstractions.Serialization.UntypedArray(
        [
            new Microsoft.Kiota.Abstractions.Serialization.UntypedArray([new Microsoft.Kiota.Abstractions.Serialization.UntypedDouble(1), new Microsoft.Kiota.Abstractions.Serialization.UntypedDouble(2)]),
            new Microsoft.Kiota.Abstractions.Serialization.UntypedArray([new Microsoft.Kiota.Abstractions.Serialization.UntypedDouble(1), new Microsoft.Kiota.Abstractions.Serialization.UntypedDouble(2), new Microsoft.Kiota.Abstractions.Serialization.UntypedDouble(3)]),
        ]);
        var problem = await Assert.ThrowsAsync<Problem>(() => client.Api.V1.Generations.PostAsync(bad));
        Assert.Equal(422, problem.ResponseStatusCode);
        Assert.Equal("validation_failed", problem.Code);
        Assert.Contains(problem.Errors!, e => e.Pointer == "/trajectories/0/points/1");

        // A bad query parameter names the parameter in its own member.
        var query = await Assert.ThrowsAsync<Problem>(() => client.Api.V1.Generations.GetAsync(c => c.QueryParameters.Limit = 0));
        Assert.Equal(400, query.ResponseStatusCode);
        Assert.Equal("limit", Assert.Single(query.Errors!).Parameter);

        // No key: a typed 401.
        var anonymous = new ToraClient(new Uri("http://localhost"), "tora_not-a-key", service.Api.Server.CreateHandler());
        var unauthorized = await Assert.ThrowsAsync<Problem>(() => anonymous.Api.V1.Models.GetAsync());
        Assert.Equal(401, unauthorized.ResponseStatusCode);
    }
}
