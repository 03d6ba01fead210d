using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Tora.Core.Tenancy;
using Tora.TestSupport;

namespace Tora.Api.Tests;

/// <summary>A generation through the API on the worker that runs the real ONNX pipeline over the tiny package.</summary>
[Collection(ServiceCollection.Name)]
public sealed class RealPipelineTests(ServiceFixture service)
{
    [Fact]
    public async Task A_generation_on_the_real_pipeline_succeeds_with_a_probed_mp4_and_a_reproducibility_record()
    {
        var key = (await service.Api.Services.GetRequiredService<ApiKeyStore>().CreateAsync("pipeline", false, default)).Key;
        using var client = service.Client(key);
        var request = new JsonObject
        {
            ["model"] = "tora-real",
            ["prompt"] = "A squirrel gathering nuts.",
            ["trajectories"] = new JsonArray(new JsonObject
            {
                ["points"] = new JsonArray(File.ReadAllLines(TestData.Path("tora-data/trajs/coaster.txt"))
                    .Where(l => l.Trim().Length > 0)
                    .Select(l => (JsonNode)new JsonArray(l.Split(',').Select(v => (JsonNode)double.Parse(v.Trim())).ToArray()))
                    .ToArray()),
                ["space"] = "canvas256",
            }),
            ["seed"] = 42,
        };
        var created = await client.PostAsJsonAsync("/v1/generations", request);
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var g = await ServiceFixture.WaitForTerminalAsync(client, created.Headers.Location!.ToString(), TimeSpan.FromSeconds(120));
        Assert.True(g.GetProperty("status").GetString() == "succeeded", g.ToString());
        Assert.Equal(2, g.GetProperty("progress").GetProperty("step").GetInt32());
        var repro = g.GetProperty("reproducibility");
        Assert.Equal("CPUExecutionProvider", repro.GetProperty("execution_provider").GetString());
        Assert.Equal(64, repro.GetProperty("model_package_hash").GetString()!.Length);

        var bytes = await client.GetByteArrayAsync(g.GetProperty("urls").GetProperty("video").GetString()!);
        var path = Path.Combine(TestData.TempFolder(), "real.mp4");
        await File.WriteAllBytesAsync(path, bytes);
        var probe = MediaProbe.Probe(path);
        Assert.Equal(("h264", 96, 64, 49, "8/1"), (probe.Codec, probe.Width, probe.Height, probe.Frames, probe.FrameRate));
    }
}
