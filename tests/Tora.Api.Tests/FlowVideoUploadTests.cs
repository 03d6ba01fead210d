using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tora.Motion.Trajectories;
using Tora.Motion.Video;
using Tora.TestSupport;

namespace Tora.Api.Tests;

/// <summary>The multipart part <c>flow_video</c>: an MP4 of flow images as the motion input instead of trajectories.</summary>
[Collection(ServiceCollection.Name)]
public sealed class FlowVideoUploadTests(ServiceFixture service)
{
    private static readonly VideoGeometry Tiny = new(13, 96, 160);

    private static async Task<(byte[] Mp4, byte[] Rgb)> FlowMp4Async(VideoGeometry geometry)
    {
        var coaster = TrajectoryTextReader.ReadFile(TestData.Path("tora-data/trajs/coaster.txt")).Trajectories;
        var rgb = FlowVideo.FromTrajectories(coaster, geometry).ToRgb();
        var mp4 = await Mp4Writer.EncodeAsync(new RgbVideo(rgb, geometry.Frames, geometry.Height, geometry.Width), new Mp4Options { Crf = 0 });
        return (mp4, rgb);
    }

    private static MultipartFormDataContent Form(JsonObject request, byte[] flowVideo)
    {
        var video = new ByteArrayContent(flowVideo);
        video.Headers.ContentType = new MediaTypeHeaderValue("video/mp4");
        return new MultipartFormDataContent { { new StringContent(request.ToJsonString()), "request" }, { video, "flow_video", "flow.mp4" } };
    }

    private static JsonObject Request(long seed) => new()
    {
        ["model"] = "tora-tiny",
        ["prompt"] = "a roller coaster car",
        ["num_frames"] = 13,
        ["steps"] = 2,
        ["seed"] = seed,
    };

    [Fact]
    public async Task A_flow_video_reaches_the_generator_decoded_and_is_deleted_with_the_generation()
    {
        using var alpha = service.Client(service.AlphaKey);
        var (mp4, rgb) = await FlowMp4Async(Tiny);
        using var form = Form(Request(31), mp4);
        var created = await alpha.PostAsync("/v1/generations", form);
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(body.GetProperty("input").GetProperty("has_flow_video").GetBoolean());
        var id = Guid.Parse(body.GetProperty("id").GetString()!);
        var stored = Directory.GetFiles(service.BlobRoot, "flow-video.mp4", SearchOption.AllDirectories).Single(f => f.Contains(id.ToString("N")));
        Assert.Equal(mp4, await File.ReadAllBytesAsync(stored));

        var location = created.Headers.Location!.ToString();
        var g = await service.WaitForTerminalAsync(alpha, location, TimeSpan.FromSeconds(60));
        Assert.Equal("succeeded", g.GetProperty("status").GetString());
        var received = service.Fake.LastRequest is { Seed: 31 } r ? r.FlowVideo : null;
        Assert.NotNull(received);
        Assert.Equal(rgb.Length, received!.Length);
        // H.264 in yuv420p is lossy even at CRF 0 (chroma subsampling): the frames come back close, not equal.
        Assert.True(rgb.Zip(received).Average(p => Math.Abs(p.First - p.Second)) < 4, "decoded flow video far from the uploaded one");

        Assert.Equal(HttpStatusCode.NoContent, (await alpha.DeleteAsync(location)).StatusCode);
        Assert.False(File.Exists(stored));
    }

    [Fact]
    public async Task Bad_flow_videos_are_422_at_the_flow_video_pointer()
    {
        using var alpha = service.Client(service.AlphaKey);
        var (wrongSize, _) = await FlowMp4Async(new VideoGeometry(13, 64, 96));
        var (good, _) = await FlowMp4Async(Tiny);
        var withTrajectories = Request(32);
        withTrajectories["trajectories"] = new JsonArray(new JsonObject { ["points"] = new JsonArray(new JsonArray(0.1, 0.1), new JsonArray(0.9, 0.9)) });
        foreach (var (request, video, code, detail) in new[]
        {
            (Request(33), wrongSize, "invalid_flow_video", "the flow video is 96x64; this model needs 160x96"),
            (Request(34), "not a video"u8.ToArray(), "invalid_flow_video", "not a video file ffmpeg can read"),
            (withTrajectories, good, "not_allowed", "not both"),
        })
        {
            using var form = Form(request, video);
            var response = await alpha.PostAsync("/v1/generations", form);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
            var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors")[0];
            Assert.Equal(("/flow_video", code), (error.GetProperty("pointer").GetString(), error.GetProperty("code").GetString()));
            Assert.Contains(detail, error.GetProperty("detail").GetString());
        }
    }
}
