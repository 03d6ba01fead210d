using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Tora.TestSupport;

namespace Tora.Api.Tests;

[Collection(ServiceCollection.Name)]
public sealed class TrajectoriesApiTests(ServiceFixture service)
{
    [Fact]
    public async Task Presets_are_the_nine_originals_with_the_coaster_points()
    {
        using var client = service.Client(service.AlphaKey);
        var presets = await client.GetFromJsonAsync<JsonElement>("/v1/trajectories/presets");
        var names = presets.GetProperty("data").EnumerateArray().Select(p => p.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(["circle", "coaster", "dance", "infinity", "pause", "sawtooth", "shake", "spiral", "wave"], names);
        var coaster = presets.GetProperty("data").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "coaster");
        var expected = File.ReadAllLines(TestData.Path("tora-data/trajs/coaster.txt")).Where(l => l.Trim().Length > 0).ToArray();
        Assert.Equal(expected.Length, coaster.GetProperty("points").GetArrayLength());
        Assert.Equal("canvas256", coaster.GetProperty("space").GetString());
        Assert.Equal(40, coaster.GetProperty("points")[0][0].GetDouble());
        Assert.Equal(208, coaster.GetProperty("points")[0][1].GetDouble());
    }

    [Fact]
    public async Task Preview_resamples_to_one_point_per_frame_and_returns_a_playable_mp4()
    {
        using var client = service.Client(service.AlphaKey);
        var presets = await client.GetFromJsonAsync<JsonElement>("/v1/trajectories/presets");
        var coaster = presets.GetProperty("data").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "coaster");
        var response = await client.PostAsJsonAsync("/v1/trajectories/preview", new
        {
            model = "tora-tiny",
            trajectories = new[] { new { points = coaster.GetProperty("points"), space = "canvas256" } },
            mode = "paths",
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var preview = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(13, preview.GetProperty("points")[0].GetArrayLength());
        // canvas256 (40, 208) on a 160x96 video: int(160*40/256) = 25, int(96*208/256) = 78 (docs/model.md §1.2).
        Assert.Equal(25, preview.GetProperty("points")[0][0][0].GetInt32());
        Assert.Equal(78, preview.GetProperty("points")[0][0][1].GetInt32());
        Assert.True(preview.GetProperty("max_flow_norm").GetDouble() > 0);

        var uri = preview.GetProperty("video").GetString()!;
        Assert.StartsWith("data:video/mp4;base64,", uri);
        var path = Path.Combine(TestData.TempFolder(), "preview.mp4");
        await File.WriteAllBytesAsync(path, Convert.FromBase64String(uri["data:video/mp4;base64,".Length..]));
        var psi = new ProcessStartInfo("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_frames",
            "-show_entries", "stream=nb_read_frames,width,height", "-of", "csv=p=0", path]) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd().Trim();
        await p.WaitForExitAsync();
        Assert.Equal("160,96,13", output);
    }

    [Fact]
    public async Task An_uploaded_flow_video_is_previewed_over_the_first_frame_or_as_it_is()
    {
        using var client = service.Client(service.AlphaKey);
        var geometry = new Tora.Motion.Trajectories.VideoGeometry(13, 96, 160);
        var coaster = Tora.Motion.Trajectories.TrajectoryPresets.List.Single(p => p.Name == "coaster").Trajectory;
        var rgb = Tora.Motion.Trajectories.FlowVideo.FromTrajectories([coaster], geometry).ToRgb();
        var mp4 = await Tora.Motion.Video.Mp4Writer.EncodeAsync(new Tora.Motion.Video.RgbVideo(rgb, 13, 96, 160), new() { Crf = 0 });

        async Task<HttpResponseMessage> PostAsync(string request, byte[] video) =>
            await client.PostAsync("/v1/trajectories/preview", new MultipartFormDataContent
            {
                { new StringContent(request), "request" },
                { new ByteArrayContent(video), "flow_video", "flow.mp4" },
            });

        foreach (var mode in new[] { "paths", "flow" })
        {
            var response = await PostAsync($"{{\"model\": \"tora-tiny\", \"mode\": \"{mode}\"}}", mp4);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var preview = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(JsonValueKind.Null, preview.GetProperty("max_flow_norm").ValueKind);
            var dataUri = preview.GetProperty("video").GetString()!;
            var shown = await Tora.Motion.Video.Mp4Reader.ReadAsync(Convert.FromBase64String(dataUri["data:video/mp4;base64,".Length..]));
            Assert.Equal((13, 96, 160), (shown.Frames, shown.Height, shown.Width));
            // "paths": the flow at half opacity over a white canvas; "flow": the flow video itself (both through lossy H.264).
            double expected(int i) => mode == "flow" ? rgb[i] : 0.5 * 255 + 0.5 * rgb[i];
            var error = Enumerable.Range(0, rgb.Length).Average(i => Math.Abs(shown.Data.Span[i] - expected(i)));
            Assert.True(error < 6, $"{mode}: mean abs {error:F2} from the expected preview");
        }

        var small = await Tora.Motion.Video.Mp4Writer.EncodeAsync(new Tora.Motion.Video.RgbVideo(new byte[13 * 64 * 96 * 3], 13, 64, 96));
        var bad = await PostAsync("{\"model\": \"tora-tiny\"}", small);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        var error0 = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors")[0];
        Assert.Equal(("/flow_video", "invalid_flow_video"), (error0.GetProperty("pointer").GetString(), error0.GetProperty("code").GetString()));
    }

    [Theory]
    [InlineData("""{"model": "no-such-model", "trajectories": [{"points": [[0.5, 0.5]]}]}""")]
    [InlineData("""{"model": "tora-tiny", "width": 333, "trajectories": [{"points": [[0.5, 0.5]]}]}""")]
    [InlineData("""{"model": "tora-tiny", "trajectories": [{"points": [[0.5, 0.5], [1.5, 0.5]]}, {"points": [[1, 2]], "space": "polar"}]}""")]
    [InlineData("""{"model": "tora-tiny", "trajectories": [{"points": [[0.5, 0.5], [0.6]]}, null]}""")]
    public async Task Preview_refuses_what_create_refuses_with_the_same_errors(string body)
    {
        using var client = service.Client(service.AlphaKey);
        var preview = await Errors(await client.PostAsync("/v1/trajectories/preview", Json(body)));
        var create = await Errors(await client.PostAsync("/v1/generations", Json(body.Replace("{\"model\"", "{\"prompt\": \"p\", \"model\""))));
        Assert.NotEmpty(preview);
        Assert.Equal(create, preview);
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    private static async Task<string[]> Errors(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        return problem.GetProperty("errors").EnumerateArray()
            .Select(e => $"{e.GetProperty("pointer").GetString()} {e.GetProperty("code").GetString()} {e.GetProperty("detail").GetString()}").ToArray();
    }
}

[Collection(ServiceCollection.Name)]
public sealed class WebPageTests(ServiceFixture service)
{
    [Fact]
    public async Task The_web_page_is_served_at_the_root_and_uses_the_v1_api()
    {
        using var anonymous = service.Client(null);
        var page = await anonymous.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("/web/app.js", html);
        var script = await anonymous.GetAsync("/web/app.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType!.MediaType);
        var js = await script.Content.ReadAsStringAsync();
        Assert.Contains("/v1/generations", js);
        Assert.Contains("/v1/trajectories/preview", js);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/web/editor.js")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/web/style.css")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/web/missing.js")).StatusCode);
    }
}

/// <summary>The preview draws each path in the editor's colour: both palettes must stay the same.</summary>
public sealed class PreviewPaletteTests
{
    [Fact]
    public void The_preview_palette_is_the_web_editors_palette()
    {
        var editor = File.ReadAllText(Path.Combine(Tora.TestSupport.TestData.RepositoryRoot, "src", "Tora.Api", "Web", "editor.js"));
        var line = System.Text.RegularExpressions.Regex.Match(editor, @"export const COLOURS = \[(.*?)\];").Groups[1].Value;
        var web = System.Text.RegularExpressions.Regex.Matches(line, "#([0-9a-f]{6})").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(web, Tora.Motion.Video.TrajectoryPreview.EditorColours.Select(c => $"{c.R:x2}{c.G:x2}{c.B:x2}").ToArray());
    }
}
