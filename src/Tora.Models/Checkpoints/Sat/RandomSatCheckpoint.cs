using Tora.Models.Graph;

namespace Tora.Models.Checkpoints.Sat;

/// <summary>
/// Writes a SAT <c>ckpts/</c> folder with random weights under exactly the SAT names and shapes
/// (<see cref="SatLayout"/>): <c>tora/t2v/mp_rank_00_model_states.pt</c> (bf16 for the 5B sizes, as released;
/// with the T5 and VAE copies the real file carries), <c>vae/3d-vae.pt</c> (float32) and
/// <c>t5-v1_1-xxl/config.json</c>. The T5 folder gets no weights: the engine file's copy is what a SAT run ends
/// up using, and what <c>tora model build</c> reads. For the real-size import benchmark; outputs are meaningless.
/// </summary>
public static class RandomSatCheckpoint
{
    /// <summary>Writes the folder.</summary>
    public static void Write(RandomConfig config, string folder, ulong seed)
    {
        var type = config == RandomConfig.Tiny ? ElementType.Float32 : ElementType.BFloat16;
        var tc = RandomCheckpoint.TransformerConfig(config);
        var ec = RandomCheckpoint.TextEncoderConfig(config);
        var vc = config == RandomConfig.Tiny ? CogVideoXVaeLayout.Tiny(tc.SampleHeight * 8, tc.SampleWidth * 8) : CogVideoXVaeConfig.CogVideoX5B;
        Directory.CreateDirectory(folder);

        var engine = new TorchCheckpointWriter();
        var rng = new RandomCheckpoint.SplitMix64(seed);
        foreach (var t in SatLayout.Engine(tc, ec, vc))
        {
            if (t.Kind == TensorKind.Counter) { engine.AddInt64(t.Name, t.Shape, [1000]); continue; }
            ulong s = rng.Next();
            engine.Add(t.Name, type, t.Shape, span => RandomCheckpoint.Fill(span, t, s));
        }
        engine.AddAlias(SatMapping.TextEncoderPrefix + "encoder.embed_tokens.weight", SatMapping.TextEncoderPrefix + "shared.weight");
        var dit = Directory.CreateDirectory(Path.Combine(folder, "tora", "t2v")).FullName;
        engine.Write(Path.Combine(dit, SatPipelineSource.EngineFile), "module");

        var vae = new TorchCheckpointWriter();
        foreach (var t in CogVideoXVaeLayout.Tensors(vc))
        {
            ulong s = rng.Next();
            vae.Add(SatLayout.VaeName(t.Name, vc.BlockOutChannels.Length), ElementType.Float32, t.Shape, span => RandomCheckpoint.Fill(span, t, s));
        }
        vae.Write(Path.Combine(Directory.CreateDirectory(Path.Combine(folder, "vae")).FullName, "3d-vae.pt"), "state_dict");

        var t5 = Directory.CreateDirectory(Path.Combine(folder, "t5-v1_1-xxl")).FullName;
        RandomCheckpoint.WriteConfig(Path.Combine(t5, "config.json"), ec, new()
        {
            ["architectures"] = new System.Text.Json.Nodes.JsonArray("T5EncoderModel"), ["model_type"] = "t5", ["dense_act_fn"] = "gelu_new", ["is_gated_act"] = true,
        });
    }
}
