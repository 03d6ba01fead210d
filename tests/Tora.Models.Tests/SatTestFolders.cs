using System.IO.Compression;
using System.Text;
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

    /// <summary>
    /// Writes a torch zip checkpoint <c>{'module': OrderedDict(name → float32 tensor)}</c> the way <c>torch.save</c>
    /// does (pickle protocol 2, one stored member per storage), with an optional extra pickle global to test refusals.
    /// </summary>
    public static void WriteEngine(string path, IEnumerable<(string Name, long[] Shape, float[] Values)> tensors, string? extraGlobal = null)
    {
        var pkl = new MemoryStream();
        void Op(params byte[] b) => pkl.Write(b);
        void Str(string s) { var b = Encoding.UTF8.GetBytes(s); Op((byte)'X'); pkl.Write(BitConverter.GetBytes(b.Length)); pkl.Write(b); }
        void Int(long v) { Op((byte)'J'); pkl.Write(BitConverter.GetBytes((int)v)); }
        void Global(string module, string name) => pkl.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));
        void Tuple(long[] v) { Op((byte)'('); foreach (var x in v) Int(x); Op((byte)'t'); }
        var list = tensors.ToList();
        Op(0x80, 2, (byte)'}');
        if (extraGlobal is not null)
        {
            Str("args");
            var dot = extraGlobal.LastIndexOf('.');
            Global(extraGlobal[..dot], extraGlobal[(dot + 1)..]);
            Op((byte)')', (byte)'R', (byte)'s');
        }
        Str("module");
        Global("collections", "OrderedDict");
        Op((byte)')', (byte)'R', (byte)'(');
        for (int i = 0; i < list.Count; i++)
        {
            var (name, shape, values) = list[i];
            Str(name);
            Global("torch._utils", "_rebuild_tensor_v2");
            Op((byte)'(', (byte)'(');
            Str("storage");
            Global("torch", "FloatStorage");
            Str(i.ToString());
            Str("cpu");
            Int(values.Length);
            Op((byte)'t', (byte)'Q');
            Int(0);
            Tuple(shape);
            var stride = new long[shape.Length];
            long s = 1;
            for (int d = shape.Length - 1; d >= 0; d--) { stride[d] = s; s *= shape[d]; }
            Tuple(stride);
            Op(0x89);
            Global("collections", "OrderedDict");
            Op((byte)')', (byte)'R', (byte)'t', (byte)'R');
        }
        Op((byte)'u', (byte)'s', (byte)'.');

        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Member(string name, byte[] data)
        {
            var e = zip.CreateEntry("archive/" + name, CompressionLevel.NoCompression);
            using var w = e.Open();
            w.Write(data);
        }
        Member("data.pkl", pkl.ToArray());
        for (int i = 0; i < list.Count; i++)
        {
            var bytes = new byte[list[i].Values.Length * 4];
            Buffer.BlockCopy(list[i].Values, 0, bytes, 0, bytes.Length);
            Member($"data/{i}", bytes);
        }
        Member("version", "3\n"u8.ToArray());
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
