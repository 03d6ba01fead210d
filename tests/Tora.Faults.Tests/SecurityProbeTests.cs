using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace Tora.Faults.Tests;

/// <summary>Cheap, deterministic security probes against the real API process (issue 11).</summary>
[Collection(FaultCollection.Name)]
public sealed class SecurityProbeTests(FaultFixture service, ITestOutputHelper output)
{
    private const string SecretPrompt = "alpha's secret prompt 5b1e";

    [Fact]
    public async Task Every_id_endpoint_of_the_contract_answers_404_without_data_to_another_tenant()
    {
        using var alpha = service.Client(service.AlphaKey);
        using var beta = service.Client(service.BetaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = FaultFixture.QueuedModel, prompt = SecretPrompt });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        try
        {
            // Admin operations answer 403 to every non-admin key before looking at the id (KeyLifecycleTests).
            var operations = OpenApiOperations.All.Where(o => o.Path.Contains("{id}", StringComparison.Ordinal)
                && !o.Path.StartsWith("/v1/admin/", StringComparison.Ordinal)).ToList();
            Assert.True(operations.Count >= 7, string.Join(", ", operations));
            foreach (var op in operations)
            {
                var path = op.Fill(name => name == "id" ? id : Guid.NewGuid().ToString());
                using var request = new HttpRequestMessage(op.Method, path);
                if (op.Method == HttpMethod.Post) request.Content = JsonContent.Create(new { });
                using var response = await beta.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                var body = await ReadPrefixAsync(response, 64 * 1024);
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{op} as another tenant: {(int)response.StatusCode} {body}");
                Assert.DoesNotContain(SecretPrompt, body, StringComparison.Ordinal);
            }

            // The owner still sees it, untouched by the probes (the DELETE and cancel above did nothing).
            var own = await alpha.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}");
            Assert.Equal("queued", own.GetProperty("status").GetString());
            var list = await beta.GetStringAsync("/v1/generations");
            Assert.DoesNotContain(id, list, StringComparison.Ordinal);
            new FaultFigures("Cross-tenant probes: every {id} operation of openapi.yaml with another tenant's id and key", operations.Count, 0, operations.Count, 0, 0, 0,
                $"{operations.Count} operations all 404 without the owner's data; the list does not show the id; the owner's generation untouched").Report(output);
        }
        finally
        {
            await alpha.PostAsync($"/v1/generations/{id}/cancel", null);
        }
    }

    [Fact]
    public async Task A_tiny_png_declaring_50000_by_50000_pixels_is_refused_fast_with_4xx()
    {
        using var alpha = service.Client(service.AlphaKey);
        var bomb = PngDeclaring(50_000, 50_000);
        Assert.True(bomb.Length < 200);
        var clock = Stopwatch.StartNew();
        var response = await alpha.PostAsJsonAsync("/v1/generations", new
        {
            model = FaultFixture.QueuedModel,
            prompt = "a fox",
            image = $"data:image/png;base64,{Convert.ToBase64String(bomb)}",
        });
        clock.Stop();
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("50000x50000", body, StringComparison.Ordinal); // refused for its declared size, not for another reason
        // Generous for a loaded CI machine; decoding 2.5 gigapixels would take far longer (and 7.5 GB).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        new FaultFigures("Image bomb: a 66-byte PNG declaring 50 000 x 50 000 pixels", 1, 0, 1, 0, 0, 0,
            $"{(int)response.StatusCode} problem+json in {clock.Elapsed.TotalMilliseconds:F0} ms, refused for its declared size").Report(output);
    }

    [Fact]
    public async Task Json_nested_10000_arrays_deep_is_refused_with_4xx()
    {
        using var alpha = service.Client(service.AlphaKey);
        var deep = new string('[', 10_000) + new string(']', 10_000);
        foreach (var body in new[] { deep, $"{{\"prompt\": \"a fox\", \"trajectories\": {deep}}}" })
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            var response = await alpha.PostAsync("/v1/generations", content);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode is >= 400 and < 500, $"{(int)response.StatusCode} {text}");
        }
        // The process is still serving.
        Assert.Equal(HttpStatusCode.OK, (await alpha.GetAsync("/health/live")).StatusCode);
        new FaultFigures("Deep JSON: 10 000 nested arrays as the body and as a field", 2, 0, 2, 0, 0, 0, "both 4xx; the API still serving").Report(output);
    }

    private static async Task<string> ReadPrefixAsync(HttpResponseMessage response, int max)
    {
        // Bounded: an event stream that (wrongly) stayed open must not hang the probe.
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[max];
        var total = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            int n;
            while (total < max && (n = await stream.ReadAsync(buffer.AsMemory(total), cts.Token)) > 0) total += n;
        }
        catch (OperationCanceledException) { }
        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    /// <summary>A valid PNG header declaring <paramref name="width"/> × <paramref name="height"/> RGB pixels, with one tiny IDAT.</summary>
    internal static byte[] PngDeclaring(int width, int height)
    {
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // RGB
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]); // zlib of one zero byte
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        s.Write(word);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typed);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typed));
        s.Write(word);
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
