using Tora.Models.Checkpoints.Sat;
using Tora.TestSupport;

namespace Tora.Models.Tests;

/// <summary>
/// SAT <c>ckpts/</c> folders assembled from the tiny fixtures (tiny-tora-sat engine files and 3d-vae.pt, the
/// tiny T5 config, weights and tokenizer as <c>t5-v1_1-xxl/</c>), and a small torch-zip writer for broken files.
/// </summary>
internal static class SatTestFolders
{
    public static string Sat(string relative) => TestData.Path("fixtures/tiny-tora-sat/" + relative);

    public static string TinyYaml(string variant) => Sat($"configs/tora_tiny_{variant}.yaml");

    public static SatImportOptions TinyOptions(string variant) => new() { ModelConfig = TinyYaml(variant), VaeNormGroups = 2 };

    /// <summary>A ckpts/ folder with <paramref name="engine"/> as tora/<paramref name="variant"/>.</summary>
    public static string Ckpts(string engine, string variant = "t2v")
    {
        var root = Path.Combine(TestData.TempFolder(), "ckpts");
        Directory.CreateDirectory(Path.Combine(root, "tora", variant));
        File.Copy(engine, Path.Combine(root, "tora", variant, SatPipelineSource.EngineFile));
        Directory.CreateDirectory(Path.Combine(root, "vae"));
        File.Copy(Sat("vae/3d-vae.pt"), Path.Combine(root, "vae", "3d-vae.pt"));
        var t5 = Directory.CreateDirectory(Path.Combine(root, "t5-v1_1-xxl")).FullName;
        foreach (var dir in new[] { "text_encoder", "tokenizer" })
            foreach (var f in Directory.GetFiles(TestData.Path("fixtures/tiny-tora-t2v/" + dir)))
                File.Copy(f, Path.Combine(t5, Path.GetFileName(f)));
        return root;
    }

    /// <summary>Writes a float32 engine file <c>{'module': OrderedDict}</c> with our <see cref="TorchCheckpointWriter"/>.</summary>
    public static void WriteEngine(string path, IEnumerable<(string Name, long[] Shape, float[] Values)> tensors, string? extraGlobal = null)
    {
        var writer = new TorchCheckpointWriter();
        foreach (var (name, shape, values) in tensors) writer.Add(name, Tora.Models.Graph.ElementType.Float32, shape, span => values.CopyTo(span));
        writer.Write(path, "module", extraGlobal);
    }

    /// <summary>The float32 tensors of a fixture engine file, for rewriting with <see cref="WriteEngine"/>.</summary>
    public static List<(string Name, long[] Shape, float[] Values)> ReadAll(string path)
    {
        using var f = TorchCheckpointFile.Open(path);
        var result = new List<(string, long[], float[])>();
        foreach (var (name, t) in f.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (t.ElementType is not { } et || !Tora.Models.Graph.ElementTypes.IsFloat(et)) continue;
            var values = new float[t.ElementCount];
            f.ReadFloats(t, 0, values);
            result.Add((name, t.Shape, values));
        }
        return result;
    }
}
