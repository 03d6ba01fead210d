using System.Diagnostics;
using System.Text.Json;

namespace Tora.TestSupport;

/// <summary>What ffprobe reports about the first video stream of a file.</summary>
public sealed record VideoProbe(string Codec, string PixelFormat, int Width, int Height, int Frames, string FrameRate, string Format);

/// <summary>Runs the real ffprobe/ffmpeg (installed by test.sh) to check encoded videos.</summary>
public static class MediaProbe
{
    /// <summary>Probes a video file (counting the decoded frames).</summary>
    public static VideoProbe Probe(string path)
    {
        var json = Run("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0",
            "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames,r_frame_rate:format=format_name",
            "-of", "json", path]);
        using var doc = JsonDocument.Parse(json);
        var s = doc.RootElement.GetProperty("streams")[0];
        return new VideoProbe(
            s.GetProperty("codec_name").GetString()!, s.GetProperty("pix_fmt").GetString()!,
            s.GetProperty("width").GetInt32(), s.GetProperty("height").GetInt32(),
            int.Parse(s.GetProperty("nb_read_frames").GetString()!), s.GetProperty("r_frame_rate").GetString()!,
            doc.RootElement.GetProperty("format").GetProperty("format_name").GetString()!);
    }

    /// <summary>Decodes a video to packed RGB <c>[F, H, W, 3]</c> bytes.</summary>
    public static byte[] DecodeRgb(string path)
    {
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        using var buffer = new MemoryStream();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.BaseStream.CopyTo(buffer);
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"ffmpeg failed on {path}: {stderr.Result}");
        return buffer.ToArray();
    }

    /// <summary>The names of the top-level MP4 boxes in file order (to check <c>+faststart</c>: moov before mdat).</summary>
    public static IReadOnlyList<string> TopLevelBoxes(string path)
    {
        var boxes = new List<string>();
        using var f = File.OpenRead(path);
        var header = new byte[16];
        while (f.Position + 8 <= f.Length)
        {
            var start = f.Position;
            f.ReadExactly(header, 0, 8);
            long size = (uint)(header[0] << 24 | header[1] << 16 | header[2] << 8 | header[3]);
            boxes.Add(System.Text.Encoding.ASCII.GetString(header, 4, 4));
            if (size == 1)
            {
                f.ReadExactly(header, 8, 8);
                size = 0;
                for (var i = 8; i < 16; i++) size = size << 8 | header[i];
            }
            else if (size == 0) break;
            f.Position = start + size;
        }
        return boxes;
    }

    private static string Run(string tool, string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} failed: {stderr.Result}");
        return stdout;
    }
}
