using System.Diagnostics;
using FFMpegCore;
using FFMpegCore.Pipes;
using Tora.Contracts;
using Tora.Inference;
using Tora.Motion.Trajectories;

namespace Tora.TestSupport.Service;

/// <summary>
/// A test generator behind the real <see cref="IVideoGenerator"/> contract: it walks the denoising steps (reporting
/// progress, honouring cancellation between steps) and renders real frames — a dot moving along the first
/// trajectory over a gradient — encoded to a real H.264 MP4 by ffmpeg, so the service is tested end to end
/// without model weights.
/// </summary>
public sealed class FakeVideoGenerator(string model) : IVideoGenerator
{
    private readonly HashSet<long> _faulted = [];

    /// <summary>The last request received.</summary>
    public GenerationRequest? LastRequest { get; private set; }

    /// <summary>Delay per step.</summary>
    public TimeSpan StepDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <inheritdoc />
    public VideoGeneratorStatus Status => new(true, model, "fake generator for tests (real frames, real ffmpeg)");

    /// <inheritdoc />
    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress> progress, CancellationToken cancellationToken)
    {
        LastRequest = request;
        var video = request.Geometry ?? throw new InvalidOperationException("the worker states the video geometry");
        var output = request.OutputPath ?? throw new InvalidOperationException("the worker states the output path");
        // Prompts asking for a transient fault fail on the first attempt of each seed (like a GPU driver reset).
        if (request.Prompt.Contains("transient fault") && _faulted.Add(request.Seed))
            throw new InvalidOperationException("simulated transient device fault");
        var phases = new Dictionary<string, double>();
        var sw = Stopwatch.StartNew();
        progress.Report(new GenerationProgress("denoise", 0, request.Steps));
        for (var step = 1; step <= request.Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Prompts asking for a slow run give tests time to act while it runs.
            await Task.Delay(request.Prompt.Contains("slowly") ? TimeSpan.FromMilliseconds(400) : StepDelay, cancellationToken);
            progress.Report(new GenerationProgress("denoise", step, request.Steps));
        }
        phases["denoise"] = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        progress.Report(new GenerationProgress(GenerationPhases.EncodeVideo, request.Steps, request.Steps));
        var frames = Enumerable.Range(0, video.Frames).Select(i => (IVideoFrame)new DotFrame(request, video, i));
        var source = new RawVideoPipeSource(frames) { FrameRate = request.Fps };
        var result = await FFMpegArguments.FromPipeInput(source)
            .OutputToFile(output, overwrite: true, o => o
                .WithVideoCodec("libx264").WithCustomArgument("-pix_fmt yuv420p -preset ultrafast -movflags +faststart")
                .WithCustomArgument($"-r {request.Fps}"))
            .CancellableThrough(cancellationToken)
            .ProcessAsynchronously(throwOnError: false);
        if (!result.Success) throw new InvalidOperationException("ffmpeg failed: " + result.StandardError);
        phases[GenerationPhases.EncodeVideo] = sw.Elapsed.TotalMilliseconds;
        return new GenerationResult
        {
            VideoPath = request.OutputPath, Geometry = video, Fps = request.Fps, PhaseMilliseconds = phases,
            ModelPackageHash = "sha256:fake", Scheduler = "fake-steps", OnnxRuntimeVersion = "none", ExecutionProvider = "CPUExecutionProvider",
        };
    }

    private sealed class DotFrame(GenerationRequest request, VideoGeometry video, int index) : IVideoFrame
    {
        public int Width => video.Width;
        public int Height => video.Height;
        public string PixelFormat => "rgb24";

        public void Serialize(Stream pipe) => pipe.Write(Render());

        public Task SerializeAsync(Stream pipe, CancellationToken token) => pipe.WriteAsync(Render(), token).AsTask();

        private byte[] Render()
        {
            var (w, h) = (video.Width, video.Height);
            var (dx, dy) = DotPosition();
            var bytes = new byte[w * h * 3];
            for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var o = (y * w + x) * 3;
                var inDot = (x - dx) * (x - dx) + (y - dy) * (y - dy) < 25;
                bytes[o] = inDot ? (byte)255 : (byte)(x * 255 / w);
                bytes[o + 1] = inDot ? (byte)255 : (byte)(y * 255 / h);
                bytes[o + 2] = inDot ? (byte)255 : (byte)(index * 255 / Math.Max(1, video.Frames - 1));
            }
            return bytes;
        }

        private (int X, int Y) DotPosition()
        {
            if (request.Trajectories.Count == 0) return (video.Width / 2, video.Height / 2);
            // The pipeline's own resampling: the dot is where Tora's flow says the object is in this frame.
            var p = TrajectoryResampler.ToVideo(request.Trajectories[0], video)[index];
            return (p.X, p.Y);
        }
    }
}
