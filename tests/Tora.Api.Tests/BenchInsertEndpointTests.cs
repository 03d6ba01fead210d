using System.Net;
using System.Text;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Tora.Api.Tests;

/// <summary><c>POST /bench/insert</c>, the load test's reference endpoint: off unless configured, then one INSERT.</summary>
[Collection(ServiceCollection.Name)]
public sealed class BenchInsertEndpointTests(ServiceFixture service)
{
    private static StringContent Body() =>
        new("""{"model": "tora-tiny", "prompt": "a bench row", "trajectories": [{"points": [[0.1, 0.1], [0.9, 0.9]]}]}""", Encoding.UTF8, "application/json");

    [Fact]
    public async Task The_insert_endpoint_is_mapped_only_when_Tora_Bench_InsertEndpoint_is_true()
    {
        using var product = service.Client(null);
        Assert.Equal(HttpStatusCode.NotFound, (await product.PostAsync("/bench/insert", Body())).StatusCode);

        var settings = service.Settings();
        settings["Tora:Api:RunJobServer"] = "false";
        settings["Tora:Bench:InsertEndpoint"] = "true";
        await using var bench = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in settings) b.UseSetting(k, v);
        });
        using var client = bench.CreateClient();
        var accepted = await client.PostAsync("/bench/insert", Body());
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.True(Guid.TryParse((await accepted.Content.ReadAsStringAsync()).Trim('"'), out _));
        // The same validation as POST /v1/generations.
        var invalid = await client.PostAsync("/bench/insert", new StringContent("""{"model": "tora-tiny"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
    }
}
