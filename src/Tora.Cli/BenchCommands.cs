using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tora.Inference.Embeddings;
using Tora.Inference.Package;
using Tora.Inference.Pipeline;
using Tora.Motion.IO;

namespace Tora.Cli;

/// <summary>
/// <c>tora bench …</c>: the transformer-step measurement (bench/README.md, GPU section; bench/gpu/run.sh drives it on a GPU
/// machine) and the noise-prediction comparison against PyTorch.
/// </summary>
public static class BenchCommands
{
    /// <summary>The <c>bench</c> command group.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Measure a package's transformer step (CUDA or CPU) and compare outputs.");
        bench.Subcommands.Add(StepCommand());
        bench.Subcommands.Add(DiffCommand());
        bench.Subcommands.Add(VaeBench.Create());
        return bench;
    }

    private static Command StepCommand()
    {
        var package = new Option<string>("--package") { Description = "Model package folder (needs transformer and trajectory_encoder).", Required = true };
        var device = new Option<string>("--device") { Description = "cuda (falls back to cpu with a log line when CUDA cannot load) or cpu.", DefaultValueFactory = _ => "cuda" };
        device.AcceptOnlyFromAmong("cuda", "cpu");
        var deviceId = new Option<int>("--device-id") { Description = "CUDA device ordinal.", DefaultValueFactory = _ => 0 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed runs first (cuDNN/kernel selection, arena growth).", DefaultValueFactory = _ => 2 };
        var runs = new Option<int>("--runs") { Description = "Timed runs (the median is reported).", DefaultValueFactory = _ => 10 };
        var motion = new Option<string>("--motion") { Description = "on: gamma/beta from the trajectory encoder (run once, kept on the device); off: zeros (plain CogVideoX, comparable with diffusers' CogVideoXTransformer3DModel).", DefaultValueFactory = _ => "on" };
        motion.AcceptOnlyFromAmong("on", "off");
        var inputs = new Option<string?>("--inputs") { Description = ".npz with hidden_states, encoder_hidden_states, rope_cos, rope_sin, optional timestep and video_flow; default: seeded random inputs at the package geometry, CFG batch 2." };
        var saveInputs = new Option<string?>("--save-inputs") { Description = "Write the inputs used to this .npz (PyTorch reads the same)." };
        var timestep = new Option<long>("--timestep") { Description = "Timestep value when the inputs have none.", DefaultValueFactory = _ => 999 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random inputs.", DefaultValueFactory = _ => 0 };
        var noisePred = new Option<string?>("--noise-pred") { Description = "Write the noise prediction of one extra run to this .npy (float32)." };
        var profile = new Option<string?>("--profile") { Description = "ORT profiling file prefix: profiles every run of the transformer session (the timings then carry profiling overhead: time without it) and prints node placement and op-type totals." };
        var optimized = new Option<string?>("--optimized-model") { Description = "Save the optimised graph here (weights to <path>.data) and print its op counts." };
        var json = new Option<string?>("--json") { Description = "Append the result as one JSON line to this file." };
        var cpuArena = new Option<string>("--cpu-arena") { Description = "CPU provider: on (ONNX Runtime's memory arena, as the pipeline's sessions use it) or off (every tensor from malloc and freed after its last use: the peak RSS is then what the step needs).", DefaultValueFactory = _ => "on" };
        cpuArena.AcceptOnlyFromAmong("on", "off");
        var cudaOptions = new Option<string[]>("--cuda-option") { Description = "Extra CUDA provider option key=value (repeatable), e.g. sdpa_kernel=8 to pin cuDNN flash attention (docs/model.md §6.3).", AllowMultipleArgumentsPerToken = false };
        var command = new Command("step", "Time the CFG-batched transformer step with IOBinding: warm-up, then median/min/max of the timed runs, peak GPU memory.")
            { package, device, deviceId, warmup, runs, motion, inputs, saveInputs, timestep, seed, noisePred, profile, optimized, json, cudaOptions, cpuArena };
        command.SetAction(parse =>
        {
            if (parse.GetValue(runs) < 1 || parse.GetValue(warmup) < 0) throw new CliException("--runs must be ≥ 1 and --warmup ≥ 0");
            var extra = new Dictionary<string, string>();
            foreach (var kv in parse.GetValue(cudaOptions) ?? [])
            {
                int eq = kv.IndexOf('=');
                if (eq <= 0) throw new CliException($"--cuda-option '{kv}' is not key=value");
                extra[kv[..eq]] = kv[(eq + 1)..];
            }
            var settings = new StepBenchSettings(parse.GetRequiredValue(package), parse.GetValue(device) == "cuda", parse.GetValue(deviceId),
                parse.GetValue(warmup), parse.GetValue(runs), parse.GetValue(motion) == "on", parse.GetValue(inputs), parse.GetValue(saveInputs),
                parse.GetValue(timestep), parse.GetValue(seed), parse.GetValue(noisePred), parse.GetValue(profile), parse.GetValue(optimized), parse.GetValue(json), extra,
                parse.GetValue(cpuArena) == "on");
            try
            {
                StepBench.Run(settings, Console.WriteLine);
            }
            catch (Exception e) when (e is OnnxRuntimeException or InvalidDataException or KeyNotFoundException or ArgumentException)
            {
                throw new CliException(e.Message, 1);
            }
            return 0;
        });
        return command;
    }

    private static Command DiffCommand()
    {
        var actual = new Option<string>("--actual") { Description = ".npy, or file.npz:key.", Required = true };
        var expected = new Option<string>("--expected") { Description = ".npy, or file.npz:key.", Required = true };
        var tolerance = new Option<double?>("--max-abs") { Description = "Fail (exit 1) when the max abs difference exceeds this." };
        var label = new Option<string>("--label") { Description = "Name printed with the result.", DefaultValueFactory = _ => "diff" };
        var command = new Command("diff", "Max and mean abs difference of two float arrays (e.g. our noise_pred against PyTorch's).") { actual, expected, tolerance, label };
        command.SetAction(parse =>
        {
            var a = LoadArray(parse.GetRequiredValue(actual));
            var e = LoadArray(parse.GetRequiredValue(expected));
            if (!a.Shape.SequenceEqual(e.Shape))
                throw new CliException($"shapes differ: [{string.Join(", ", a.Shape)}] vs [{string.Join(", ", e.Shape)}]", 1);
            var (max, mean, nan) = Difference(a.ToFloats(), e.ToFloats());
            var limit = parse.GetValue(tolerance);
            bool ok = !nan && (limit is null || max <= limit);
            Console.WriteLine(FormattableString.Invariant($"{parse.GetValue(label)}: max abs {max:E3}, mean abs {mean:E3}{(nan ? ", NaN present" : "")}{(limit is null ? "" : ok ? $" (≤ {limit:E1}: ok)" : $" (> {limit:E1}: FAILED)")}"));
            return ok ? 0 : 1;
        });
        return command;
    }

    /// <summary>Max and mean absolute difference; NaN anywhere is reported, never hidden.</summary>
    internal static (double Max, double Mean, bool NaN) Difference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double max = 0, sum = 0;
        bool nan = false;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs((double)a[i] - b[i]);
            if (double.IsNaN(d)) { nan = true; continue; }
            sum += d;
            if (d > max) max = d;
        }
        return (max, a.Length == 0 ? 0 : sum / a.Length, nan);
    }

    private static NpyArray LoadArray(string spec)
    {
        int colon = spec.LastIndexOf(':');
        if (colon > 0 && spec[..colon].EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
        {
            var npz = NpzFile.Read(spec[..colon]);
            return npz.TryGetValue(spec[(colon + 1)..], out var arr) ? arr : throw new CliException($"{spec[..colon]} has no array '{spec[(colon + 1)..]}'");
        }
        if (!File.Exists(spec)) throw new CliException($"{spec}: no such file");
        return NpyArray.Read(spec);
    }
}

/// <summary>What one <c>tora bench step</c> does.</summary>
internal sealed record StepBenchSettings(string Package, bool Cuda, int DeviceId, int Warmup, int Runs, bool Motion, string? Inputs,
    string? SaveInputs, long Timestep, int Seed, string? NoisePred, string? Profile, string? OptimizedModel, string? Json,
    IReadOnlyDictionary<string, string> CudaOptions, bool CpuArena = true);

/// <summary>
/// The transformer step measurement (bench/README.md): one session with the chosen execution provider, every input
/// bound once through IOBinding, the motion-guidance modulations computed once by the trajectory encoder and
/// left on the device (docs/model.md §6.2, §6.3), then warm-up and timed runs.
/// </summary>
internal static class StepBench
{
    private const string Transformer = "transformer", TrajectoryEncoder = "trajectory_encoder";

    public static void Run(StepBenchSettings s, Action<string> log)
    {
        var manifest = ModelManifest.Read(s.Package);
        if (!manifest.Components.TryGetValue(Transformer, out var tr) || !manifest.Components.TryGetValue(TrajectoryEncoder, out var te))
            throw new InvalidDataException($"{s.Package}: the package has no transformer/trajectory_encoder");
        var g = manifest.Geometry;
        var info = manifest.Transformer;
        log($"package {s.Package}: {manifest.ModelType} {manifest.Precision}, {info.NumLayers} layers × {info.InnerDim}, latents [{g.LatentFrames}, {g.LatentChannels}, {g.LatentHeight}, {g.LatentWidth}], {g.VideoTokens} video tokens");
        log($"ONNX Runtime {OrtEnv.Instance().GetVersionString()}; providers in this build: {string.Join(", ", OrtEnv.Instance().GetAvailableProviders())}");

        var inputs = s.Inputs is null ? RandomInputs(manifest, s.Seed, s.Timestep) : LoadInputs(s.Inputs, s.Timestep);
        if (s.SaveInputs is not null)
        {
            NpzFile.Write(s.SaveInputs, inputs);
            log($"inputs written to {s.SaveInputs}");
        }

        using var gpuMemory = GpuMemoryMonitor.Start(s.Cuda ? s.DeviceId : -1, log);
        // The worker's own provider choice: the device probe, the loud fallback, the CUDA settings and the disabled CPU
        // fallback of its sessions, so that a measurement measures what a job runs.
        var provider = new OrtSessionFactory(new ExecutionOptions
        {
            Provider = s.Cuda ? ExecutionProviderChoice.Auto : ExecutionProviderChoice.Cpu,
            DeviceId = s.DeviceId,
            CudaProviderOptions = s.CudaOptions,
            Log = log,
        });
        if (provider.UsesCuda && s.CudaOptions.Count > 0)
            log("CUDA provider options over the product's: " + string.Join(", ", s.CudaOptions.Select(kv => $"{kv.Key}={kv.Value}")));
        var deviceMemory = provider.DeviceMemory ?? OrtMemoryInfo.DefaultInstance;

        var held = new List<IDisposable>();
        var hostValues = new Dictionary<string, OrtValue>();
        try
        {
            // Motion guidance: the trajectory encoder runs once per request; its outputs stay where the
            // transformer reads them (the device) and are bound as transformer inputs without a copy.
            var modulations = new Dictionary<string, OrtValue>();
            var gammaType = tr.Inputs.First(i => i.Name == GraphNames.TrajectoryEncoder.Gamma(0)).ElementType;
            if (s.Motion)
            {
                if (!inputs.TryGetValue(GraphNames.TrajectoryEncoder.VideoFlow, out var flow)) throw new InvalidDataException($"the inputs have no {GraphNames.TrajectoryEncoder.VideoFlow} (needed with --motion on)");
                using var teOptions = provider.CreateOptions(cpuArena: true);
                var clock = Stopwatch.StartNew();
                using var teSession = new InferenceSession(Path.Combine(s.Package, te.File), teOptions);
                log($"trajectory_encoder session created in {clock.Elapsed.TotalSeconds:F1} s");
                using var binding = teSession.CreateIoBinding();
                using var flowValue = ToOrtValue(flow);
                binding.BindInput(te.Inputs[0].Name, flowValue);
                foreach (var o in te.Outputs) binding.BindOutputToDevice(o.Name, deviceMemory);
                using var runOptions = new RunOptions();
                clock.Restart();
                teSession.RunWithBinding(runOptions, binding);
                binding.SynchronizeBoundOutputs();
                log($"trajectory_encoder: {clock.Elapsed.TotalMilliseconds:F0} ms (first run, once per request)");
                var names = binding.GetOutputNames();
                var values = binding.GetOutputValues();
                for (int i = 0; i < names.Length; i++) { modulations[names[i]] = values[i]; held.Add(values[i]); }
            }
            else
            {
                // Zeros [1, 1, D] switch motion guidance off exactly (Tora.Models README).
                for (int i = 0; i < info.NumLayers; i++)
                    foreach (var name in new[] { GraphNames.TrajectoryEncoder.Gamma(i), GraphNames.TrajectoryEncoder.Beta(i) })
                    {
                        var z = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, ElementTypeOf(gammaType), [1, 1, info.InnerDim]);
                        z.GetTensorMutableRawData().Clear();
                        modulations[name] = z;
                        held.Add(z);
                    }
            }

            using var options = provider.CreateOptions(cpuArena: provider.UsesCuda || s.CpuArena);
            BenchSessionOptions.AddDiagnostics(options, s.Profile, s.OptimizedModel);
            var load = Stopwatch.StartNew();
            using var session = new InferenceSession(Path.Combine(s.Package, tr.File), options);
            log($"transformer session created in {load.Elapsed.TotalSeconds:F1} s");
            using var bindingStep = session.CreateIoBinding();
            foreach (var spec in tr.Inputs)
            {
                if (modulations.TryGetValue(spec.Name, out var m)) { bindingStep.BindInput(spec.Name, m); continue; }
                if (!inputs.TryGetValue(spec.Name, out var a)) throw new InvalidDataException($"the inputs have no '{spec.Name}'");
                var v = ToOrtValue(a);
                held.Add(v);
                hostValues[spec.Name] = v;
                // Host inputs (≈ 17 MB at 480 × 720) are copied to the device by every run, as the pipeline's
                // per-step latents are; the multi-GB modulations above are not.
                bindingStep.BindInput(spec.Name, v);
            }
            bindingStep.BindOutputToDevice(GraphNames.Transformer.NoisePred, deviceMemory);
            using var run = new RunOptions();

            for (int i = 0; i < s.Warmup; i++)
            {
                var w = Stopwatch.StartNew();
                session.RunWithBinding(run, bindingStep);
                bindingStep.SynchronizeBoundOutputs();
                log(FormattableString.Invariant($"warm-up {i + 1}: {w.Elapsed.TotalMilliseconds:F1} ms"));
            }
            var times = new double[s.Runs];
            for (int i = 0; i < s.Runs; i++)
            {
                var w = Stopwatch.StartNew();
                session.RunWithBinding(run, bindingStep);
                bindingStep.SynchronizeBoundOutputs();
                times[i] = w.Elapsed.TotalMilliseconds;
            }
            Array.Sort(times);
            double median = s.Runs % 2 == 1 ? times[s.Runs / 2] : (times[s.Runs / 2 - 1] + times[s.Runs / 2]) / 2;
            var peak = gpuMemory.PeakMiB;
            log(FormattableString.Invariant($"RESULT step{(s.Profile is null ? "" : " (PROFILED: not a timing)")} provider={provider.ProviderName} precision={manifest.Precision} motion={(s.Motion ? "on" : "off")} runs={s.Runs} median_ms={median:F1} min_ms={times[0]:F1} max_ms={times[^1]:F1} peak_gpu_mib={(peak is null ? "n/a" : peak.Value.ToString(CultureInfo.InvariantCulture))}"));
            if (s.Json is not null)
                File.AppendAllText(s.Json, JsonSerializer.Serialize(new
                {
                    provider = provider.ProviderName, precision = manifest.Precision, motion = s.Motion, runs = s.Runs, median_ms = median,
                    min_ms = times[0], max_ms = times[^1], peak_gpu_mib = peak, profiled = s.Profile is not null, ort = OrtEnv.Instance().GetVersionString(),
                }) + "\n");

            if (s.NoisePred is not null)
            {
                // One more run with the output bound to host memory, for the comparison with PyTorch.
                using var hostBinding = session.CreateIoBinding();
                foreach (var spec in tr.Inputs)
                    hostBinding.BindInput(spec.Name, modulations.TryGetValue(spec.Name, out var m) ? m : hostValues[spec.Name]);
                hostBinding.BindOutputToDevice(GraphNames.Transformer.NoisePred, OrtMemoryInfo.DefaultInstance);
                session.RunWithBinding(run, hostBinding);
                hostBinding.SynchronizeBoundOutputs();
                using var outputs = hostBinding.GetOutputValues();
                var pred = outputs[0];
                var shape = pred.GetTensorTypeAndShape().Shape.Select(d => (int)d).ToArray();
                NpyArray.FromFloats(pred.GetTensorDataAsSpan<float>(), shape).Write(s.NoisePred);
                log($"noise_pred [{string.Join(", ", shape)}] written to {s.NoisePred}");
            }
            if (s.Profile is not null)
            {
                var file = session.EndProfiling();
                log($"profile written to {file}");
                ProfileSummary.Print(file, log);
            }
            if (s.OptimizedModel is not null) ProfileSummary.PrintOpCounts(s.OptimizedModel, log);
        }
        finally
        {
            foreach (var d in held) d.Dispose();
        }
    }

    private static OrtValue ToOrtValue(NpyArray a)
    {
        long[] shape = a.Shape.Select(d => (long)d).ToArray();
        return a.DType.EndsWith("i8", StringComparison.Ordinal)
            ? OrtValue.CreateTensorValueFromMemory(a.ToInt64s(), shape)
            : OrtValue.CreateTensorValueFromMemory(a.ToFloats(), shape);
    }

    private static TensorElementType ElementTypeOf(string name) => name switch
    {
        "float32" => TensorElementType.Float,
        "float16" => TensorElementType.Float16,
        "bfloat16" => TensorElementType.BFloat16,
        _ => throw new InvalidDataException($"unexpected modulation element type {name}"),
    };

    private static Dictionary<string, NpyArray> LoadInputs(string path, long timestep)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: no such file");
        var npz = NpzFile.Read(path);
        if (!npz.ContainsKey(GraphNames.Transformer.Timestep))
        {
            int batch = npz.TryGetValue(GraphNames.Transformer.HiddenStates, out var h) ? h.Shape[0] : throw new InvalidDataException($"{path} has no {GraphNames.Transformer.HiddenStates}");
            npz[GraphNames.Transformer.Timestep] = NpyArray.FromInt64s(Enumerable.Repeat(timestep, batch).ToArray(), batch);
        }
        return npz;
    }

    /// <summary>Seeded standard-normal inputs at the package geometry, CFG batch 2, flow batch 1, the host RoPE table.</summary>
    internal static Dictionary<string, NpyArray> RandomInputs(ModelManifest m, int seed, long timestep)
    {
        var g = m.Geometry;
        var t = m.Transformer;
        var rng = new Random(seed);
        NpyArray Normal(params int[] shape)
        {
            var v = new float[shape.Aggregate(1, (a, b) => a * b)];
            for (int i = 0; i < v.Length; i += 2)
            {
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble(), r = Math.Sqrt(-2 * Math.Log(u1));
                v[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
                if (i + 1 < v.Length) v[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
            }
            return NpyArray.FromFloats(v, shape);
        }
        int p = g.PatchSize;
        var (cos, sin) = RotaryPositionalEmbedding3D.Compute(t.AttentionHeadDim, g.LatentFrames, g.LatentHeight / p, g.LatentWidth / p, t.SampleHeight / p, t.SampleWidth / p);
        return new Dictionary<string, NpyArray>
        {
            [GraphNames.Transformer.HiddenStates] = Normal(2, g.LatentFrames, t.InChannels, g.LatentHeight, g.LatentWidth),
            [GraphNames.Transformer.EncoderHiddenStates] = Normal(2, m.TextLength, t.TextEmbedDim),
            [GraphNames.Transformer.Timestep] = NpyArray.FromInt64s([timestep, timestep], 2),
            [GraphNames.Transformer.RopeCos] = NpyArray.FromFloats(cos, g.VideoTokens, t.AttentionHeadDim),
            [GraphNames.Transformer.RopeSin] = NpyArray.FromFloats(sin, g.VideoTokens, t.AttentionHeadDim),
            [GraphNames.TrajectoryEncoder.VideoFlow] = Normal(1, g.LatentFrames, g.LatentChannels, g.LatentHeight, g.LatentWidth),
        };
    }
}
