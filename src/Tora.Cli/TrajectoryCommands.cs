using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Tora.Motion.IO;
using Tora.Motion.Trajectories;
using Tora.Motion.Video;

namespace Tora.Cli;

/// <summary>
/// <c>tora trajectory render</c>: trajectory files → resampled points, the RGB flow video and an MP4 preview,
/// without a model (docs/model.md §1–2).
/// </summary>
public static class TrajectoryCommands
{
    /// <summary>Builds the <c>trajectory</c> command group.</summary>
    public static Command Create()
    {
        var traj = new Option<string[]>("--traj")
        {
            Description = "Trajectory file: an original .txt (x,y per line on the 256x256 canvas) or a .json in the API format. Repeat for several trajectories.",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        var frames = new Option<int>("--frames") { Description = "Number of video frames.", DefaultValueFactory = _ => 49 };
        var width = new Option<int>("--width") { Description = "Video width in pixels.", DefaultValueFactory = _ => 720 };
        var height = new Option<int>("--height") { Description = "Video height in pixels.", DefaultValueFactory = _ => 480 };
        var outNpy = new Option<string?>("--out-npy") { Description = "Write the RGB flow video as a NumPy .npy, uint8 [F, H, W, 3]." };
        var outPoints = new Option<string?>("--out-points") { Description = "Write {\"points\": [[[x, y], ...F] per trajectory]} in video pixels as JSON." };
        var outMp4 = new Option<string?>("--out-mp4") { Description = "Write an MP4 preview: the flow video, or the paths over --overlay-on." };
        var overlayOn = new Option<string?>("--overlay-on") { Description = "Draw the paths over this first-frame image in the MP4 preview ('blank' for a white canvas)." };
        var fps = new Option<int>("--fps") { Description = "Frames per second of the MP4 preview.", DefaultValueFactory = _ => 8 };
        var crf = new Option<int>("--crf") { Description = "x264 quality of the MP4 preview (0-51, lower is better).", DefaultValueFactory = _ => 18 };

        var render = new Command("render", "Resample trajectories and render Tora's flow video (and an MP4 preview).")
        {
            traj, frames, width, height, outNpy, outPoints, outMp4, overlayOn, fps, crf,
        };
        render.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var request = new RenderRequest(
                    parse.GetValue(traj) ?? [],
                    new VideoGeometry(parse.GetValue(frames), parse.GetValue(height), parse.GetValue(width)),
                    parse.GetValue(outNpy), parse.GetValue(outPoints), parse.GetValue(outMp4), parse.GetValue(overlayOn),
                    new Mp4Options { Fps = parse.GetValue(fps), Crf = parse.GetValue(crf) });
                await RenderAsync(request, parse.InvocationConfiguration.Output, cancellationToken);
                return 0;
            }
            catch (CliException e)
            {
                // Reported here as well as in ToraCommand, so the one-line contract holds whatever the
                // invocation's exception handling is configured to do.
                parse.InvocationConfiguration.Error.WriteLine($"tora: {e.Message}");
                return e.ExitCode;
            }
        });

        return new Command("trajectory", "Trajectory tools: resample, render the flow video, preview.") { render };
    }

    private sealed record RenderRequest(
        string[] Files, VideoGeometry Geometry, string? OutNpy, string? OutPoints, string? OutMp4, string? OverlayOn, Mp4Options Mp4);

    private static async Task RenderAsync(RenderRequest r, TextWriter output, CancellationToken cancellationToken)
    {
        var g = r.Geometry;
        if (g.Frames is < 2 or > 1024) throw new CliException($"--frames must be 2..1024, got {g.Frames}");
        if (g.Width is < 1 or > 8192 || g.Height is < 1 or > 8192) throw new CliException($"--width and --height must be 1..8192, got {g.Width}x{g.Height}");
        if (3L * g.Frames * g.Height * g.Width > Array.MaxLength)
            throw new CliException($"a {g.Frames}-frame {g.Width}x{g.Height} video is too large to render in memory");
        if (r.Mp4.Fps is < 1 or > 240) throw new CliException($"--fps must be 1..240, got {r.Mp4.Fps}");
        if (r.Mp4.Crf is < 0 or > 51) throw new CliException($"--crf must be 0..51, got {r.Mp4.Crf}");
        if (r.OverlayOn is not null && r.OutMp4 is null) throw new CliException("--overlay-on needs --out-mp4");

        var tracks = new List<PixelPoint[]>();
        foreach (var file in r.Files)
            tracks.AddRange(TrajectoryFiles.Load(file, g).Select(t => TrajectoryResampler.ToVideo(t, g)));

        var flow = FlowVideo.Create(tracks, g);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{tracks.Count} trajector{(tracks.Count == 1 ? "y" : "ies")}, {g.Frames} frames at {g.Width}x{g.Height}, max flow norm {flow.MaxNorm:0.###} px"));

        byte[]? rgb = null;
        if (r.OutNpy is not null)
        {
            rgb = flow.ToRgb();
            Write(r.OutNpy, path => new NpyArray("u1", [g.Frames, g.Height, g.Width, 3], rgb).Write(path));
            output.WriteLine($"wrote {r.OutNpy}");
        }
        if (r.OutPoints is not null)
        {
            var json = JsonSerializer.Serialize(new { points = tracks.Select(t => t.Select(p => new[] { p.X, p.Y })) });
            Write(r.OutPoints, path => File.WriteAllText(path, json));
            output.WriteLine($"wrote {r.OutPoints}");
        }
        if (r.OutMp4 is not null)
        {
            RgbVideo video;
            if (r.OverlayOn is null)
                video = new RgbVideo(rgb ?? flow.ToRgb(), g.Frames, g.Height, g.Width);
            else
                video = TrajectoryPreview.DrawPaths(tracks, g, LoadImage(r.OverlayOn));
            try
            {
                EnsureFolder(r.OutMp4);
                await Mp4Writer.WriteAsync(video, r.OutMp4, r.Mp4, cancellationToken);
            }
            catch (VideoEncodingException e)
            {
                throw new CliException($"{r.OutMp4}: {e.Message}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"{r.OutMp4}: {e.Message}");
            }
            output.WriteLine($"wrote {r.OutMp4}");
        }
    }

    private static byte[]? LoadImage(string overlayOn)
    {
        if (overlayOn == "blank" && !File.Exists(overlayOn)) return null;
        try
        {
            var bytes = File.ReadAllBytes(overlayOn);
            // Decode once here so a bad image is a one-line error, not an exception from the renderer.
            _ = TrajectoryPreview.DecodeImage(bytes, 2, 2);
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidImageException)
        {
            throw new CliException($"{overlayOn}: {e.Message}");
        }
    }

    private static void Write(string path, Action<string> write)
    {
        try
        {
            EnsureFolder(path);
            write(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{path}: {e.Message}");
        }
    }

    private static void EnsureFolder(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
    }
}
