using System.CommandLine;
using System.Diagnostics;
using Tora.Contracts;
using Tora.Inference;
using Tora.Inference.Noise;
using Tora.Inference.Pipeline;
using Tora.Motion.IO;
using Tora.Motion.Trajectories;
using Tora.Motion.Video;

namespace Tora.Cli;

/// <summary>
/// <c>tora generate</c>: one video from a model package on this machine: prompt, trajectories and an
/// optional first frame in, MP4 out, optionally the frames (<c>uint8 [F, H, W, 3]</c>) and final latents
/// (<c>float32 [1, T, C, h, w]</c>) as <c>.npy</c>, and every random draw recorded to or replayed from an <c>.npz</c>;
/// a flow video (<c>--flow</c>) may replace the rendered trajectories, and the motion controls shape the guidance.
/// </summary>
public static class GenerateCommand
{
    /// <summary>The <c>generate</c> command.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model package folder (made by 'tora model build').", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "The text prompt.", Required = true };
        var negative = new Option<string>("--negative-prompt") { Description = "The negative prompt (the unconditional branch of guidance).", DefaultValueFactory = _ => "" };
        var traj = new Option<string[]>("--traj")
        {
            Description = "Trajectory file: an original .txt (x,y per line on the 256x256 canvas) or a .json in the API format. Repeat for several; none: no motion guidance.",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        var flow = new Option<string?>("--flow")
        {
            Description = "Flow video used for motion guidance instead of rendering --traj (which then only draws the overlay): "
                + "a .npy uint8 [F, H, W, 3] or an .mp4 of the flow images, at the package's size and frame count.",
        };
        var motionStrength = new Option<double>("--motion-strength") { Description = "Multiplier of the trajectory features the fusers use, 0..10 (0 still runs the fusers on zero features).", DefaultValueFactory = _ => 1.0 };
        var motionStart = new Option<double>("--motion-start") { Description = "Motion guidance applies at step i of n when start <= i/n <= end; start 0..1.", DefaultValueFactory = _ => 0.0 };
        var motionEnd = new Option<double>("--motion-end") { Description = "End of the motion window, start..1 (e.g. 0.2: guidance only in the first fifth of the steps).", DefaultValueFactory = _ => 1.0 };
        var image = new Option<string?>("--image") { Description = "First frame (PNG/JPEG/WebP) for an image-to-video package." };
        var frames = new Option<int?>("--frames") { Description = "Video frames (the package's, 49 for Tora)." };
        var steps = new Option<int>("--steps") { Description = "Denoising steps.", DefaultValueFactory = _ => 50 };
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale (at or below 1: off).", DefaultValueFactory = _ => 6.0 };
        var noDynamic = new Option<bool>("--no-dynamic-cfg") { Description = "Keep the guidance scale constant (the original's dynamic CFG is on by default)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the torch-compatible noise stream.", DefaultValueFactory = _ => 42UL };
        var fps = new Option<int>("--fps") { Description = "Frames per second of the MP4.", DefaultValueFactory = _ => 8 };
        var noise = new Option<string?>("--noise") { Description = "Replay every random draw from this .npz (noise_000, noise_001, ... in consumption order) instead of the seed." };
        var recordNoise = new Option<string?>("--record-noise") { Description = "Write every random draw, in consumption order, to this .npz." };
        var lowMemory = new Option<bool>("--low-memory") { Description = "Load the graphs stage by stage and release each after its stage (small GPUs)." };
        var vaeTiling = new Option<string?>("--vae-tiling")
        {
            Description = "Decode (and encode) the VAE tile by tile as diffusers' enable_tiling() does: alone, diffusers' default tiles "
                + "(half the frame height and width); HxW sets the tile size in pixels (e.g. 48x40); 'off' decodes whole frames. "
                + "Default: on in --low-memory mode where the default tiles cover the frame, off otherwise.",
            Arity = ArgumentArity.ZeroOrOne,
            HelpName = "HxW",
        };
        var device = new Option<int>("--device") { Description = "CUDA device index (the CPU is used when CUDA is not usable).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "The MP4 to write.", Required = true };
        var outFrames = new Option<string?>("--out-frames") { Description = "Also write the frames as a NumPy .npy, uint8 [F, H, W, 3]." };
        var outLatents = new Option<string?>("--out-latents") { Description = "Also write the final latents as a NumPy .npy, float32 [1, T, C, h, w]." };

        var command = new Command("generate", "Generate a video with a model package (text-to-video, or image-to-video with --image), guided by trajectories.")
        {
            model, prompt, negative, traj, flow, motionStrength, motionStart, motionEnd, image, frames, steps, guidance, noDynamic, seed, fps, noise, recordNoise, lowMemory, vaeTiling, device, output, outFrames, outLatents,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            try
            {
                var options = new Options(parse.GetRequiredValue(model), parse.GetRequiredValue(prompt), parse.GetValue(negative) ?? "",
                    parse.GetValue(traj) ?? [], parse.GetValue(image), parse.GetValue(frames), parse.GetValue(steps), parse.GetValue(guidance),
                    !parse.GetValue(noDynamic), parse.GetValue(seed), parse.GetValue(fps), parse.GetValue(noise), parse.GetValue(recordNoise),
                    parse.GetValue(lowMemory), ReadVaeTiling(parse.GetResult(vaeTiling) is null ? null : parse.GetValue(vaeTiling) ?? "on"),
                    parse.GetValue(device), parse.GetRequiredValue(output), parse.GetValue(outFrames), parse.GetValue(outLatents),
                    parse.GetValue(flow), new MotionControls(parse.GetValue(motionStrength), parse.GetValue(motionStart), parse.GetValue(motionEnd)));
                await RunAsync(options, stdout, cancellationToken);
                return 0;
            }
            catch (CliException e)
            {
                parse.InvocationConfiguration.Error.WriteLine($"tora: {e.Message}");
                return e.ExitCode;
            }
        });
        return command;
    }

    private sealed record Options(string Model, string Prompt, string Negative, string[] Trajectories, string? Image, int? Frames, int Steps,
        double Guidance, bool DynamicCfg, ulong Seed, int Fps, string? Noise, string? RecordNoise, bool LowMemory, VaeTilingChoice VaeTiling, int Device,
        string Out, string? OutFrames, string? OutLatents, string? Flow, MotionControls Motion);

    /// <summary><c>--vae-tiling</c>: absent (null) → auto; alone → on; else off, auto, on or HxW.</summary>
    private static VaeTilingChoice ReadVaeTiling(string? value)
    {
        if (value is null) return VaeTilingChoice.Auto;
        try
        {
            return VaeTilingChoice.Parse(value);
        }
        catch (FormatException e)
        {
            throw new CliException($"--vae-tiling: {e.Message}");
        }
    }

    private static async Task RunAsync(Options o, TextWriter stdout, CancellationToken cancellationToken)
    {
        if (o.Steps < 1) throw new CliException($"--steps must be at least 1, got {o.Steps}");
        if (o.Fps is < 1 or > 240) throw new CliException($"--fps must be 1..240, got {o.Fps}");
        if (!double.IsFinite(o.Guidance) || o.Guidance < 0) throw new CliException($"--guidance must be a number ≥ 0, got {o.Guidance}");
        if (o.Device < 0) throw new CliException($"--device must be 0 or more, got {o.Device}");
        if (o.Image is not null && !File.Exists(o.Image)) throw new CliException($"{o.Image}: no such file");
        if (o.Noise is not null && !File.Exists(o.Noise)) throw new CliException($"{o.Noise}: no such file");
        if (o.Motion.Validate() is { Count: > 0 } motionErrors)
            throw new CliException($"--motion-{motionErrors[0].Field} {motionErrors[0].Message} (strength {o.Motion.Strength}, start {o.Motion.Start}, end {o.Motion.End})");

        var clock = Stopwatch.StartNew();
        try
        {
            var package = ModelPackage.Open(o.Model);
            var g = package.Geometry;
            if (o.Frames is { } f && f != g.Frames) throw new CliException($"--frames {f}: the model package {o.Model} generates {g.Frames} frames");
            var geometry = new VideoGeometry(g.Frames, g.Height, g.Width);
            var trajectories = o.Trajectories.SelectMany(file => TrajectoryFiles.Load(file, geometry)).ToArray();
            var flowVideo = o.Flow is null ? null : await FlowVideoInput.LoadAsync(o.Flow, geometry, cancellationToken);
            INoiseSource source = o.Noise is null ? new SeededNoiseSource(o.Seed) : ReplayNoiseSource.Load(o.Noise);
            var recorder = o.RecordNoise is null ? null : new RecordingNoiseSource(source);
            using var pipeline = new ToraPipeline(package, new ExecutionOptions
            {
                DeviceId = o.Device,
                LowMemory = o.LowMemory,
                VaeTiling = o.VaeTiling,
                Log = line => stdout.WriteLine(line),
            });
            var request = new GenerationRequest
            {
                Prompt = o.Prompt,
                NegativePrompt = o.Negative,
                Trajectories = trajectories,
                FlowVideo = flowVideo,
                OverlayTrajectory = flowVideo is not null && trajectories.Length > 0,
                Motion = o.Motion,
                FirstFrame = o.Image is null ? null : File.ReadAllBytes(o.Image),
                Geometry = geometry,
                Steps = o.Steps,
                GuidanceScale = o.Guidance,
                DynamicCfg = o.DynamicCfg,
                Seed = unchecked((long)o.Seed),
                Noise = (INoiseSource?)recorder ?? source,
                OutputPath = o.Out,
                Fps = o.Fps,
            };
            var progress = new StepPrinter(stdout);
            var result = await pipeline.GenerateAsync(request, progress, cancellationToken);
            if (recorder is not null) Write(o.RecordNoise!, recorder.Save);
            if (o.OutFrames is not null)
                Write(o.OutFrames, p => NpyArray.FromBytes(result.Pixels!, result.Geometry.Frames, result.Geometry.Height, result.Geometry.Width, 3).Write(p));
            if (o.OutLatents is not null)
                Write(o.OutLatents, p => NpyArray.FromFloats(result.FinalLatents!, result.LatentShape!).Write(p));
            var phases = string.Join(", ", result.PhaseMilliseconds.Select(kv => $"{kv.Key} {kv.Value / 1000:F2} s"));
            stdout.WriteLine($"{o.Out}: {result.Geometry.Frames} frames {result.Geometry.Width}x{result.Geometry.Height} at {o.Fps} fps, "
                + $"{(o.Noise is null ? $"seed {o.Seed}" : $"noise replayed from {o.Noise}")}, {result.ExecutionProvider}, {clock.Elapsed.TotalSeconds:F1} s ({phases})");
        }
        catch (GenerationException e)
        {
            throw new CliException(e.Message);
        }
        catch (NoiseSourceException e)
        {
            throw new CliException(e.Message);
        }
        catch (FlowVideoInputException e)
        {
            throw new CliException(e.Message);
        }
        catch (VideoEncodingException e)
        {
            throw new CliException($"{o.Out}: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(e.Message);
        }
    }

    private static void Write(string path, Action<string> write)
    {
        try
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
            write(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{path}: {e.Message}");
        }
    }

    /// <summary>One line per denoising step on stdout.</summary>
    private sealed class StepPrinter(TextWriter stdout) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value)
        {
            if (value.Phase == GenerationPhases.Denoise && value.Step > 0)
                stdout.WriteLine($"step {value.Step}/{value.TotalSteps} ({value.Elapsed.TotalSeconds:F1} s)");
        }
    }
}
