using System.Text.Json;
using Tora.Motion.IO;
using Tora.Inference.Text;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Text;

public class T5TokenizerTests
{
    private static readonly string Folder = TestData.Path("fixtures/tiny-tora-t2v/tokenizer");
    private static readonly T5Tokenizer Tokenizer = T5Tokenizer.Load(Folder);

    private static string[] Prompts() =>
        JsonDocument.Parse(File.ReadAllText(TestData.Path("fixtures/tiny-tora-t2v/reference/tokenizer_prompts.json")))
            .RootElement.EnumerateArray().Select(e => e.GetProperty("prompt").GetString()!).ToArray();

    [Fact]
    public void All_nine_reference_prompts_give_exactly_the_reference_ids()
    {
        var reference = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/tokenizer_ids.npz"));
        var ids = reference["input_ids"].ToInt64s();
        var mask = reference["attention_mask"].ToInt64s();
        var untruncated = reference["num_ids_untruncated"].ToInt64s();
        var prompts = Prompts();
        Assert.Equal(9, prompts.Length);
        for (var p = 0; p < prompts.Length; p++)
        {
            var row = new long[226];
            var real = Tokenizer.Encode(prompts[p], row);
            var expected = ids.AsSpan(p * 226, 226).ToArray();
            var diff = Enumerable.Range(0, 226).FirstOrDefault(i => expected[i] != row[i], -1);
            Assert.True(diff < 0, $"prompt {p}: first difference at {diff}: [{string.Join(", ", row.Skip(Math.Max(0, diff - 3)).Take(10))}] expected [{string.Join(", ", expected.Skip(Math.Max(0, diff - 3)).Take(10))}]");
            Assert.Equal(mask.Skip(p * 226).Take(226).Sum(), real);
            Assert.Equal(untruncated[p], Tokenizer.EncodeUntruncated(prompts[p]).Count);
        }
    }

    /// <summary>Ids printed by Python's sentencepiece 0.1.97 (<c>sp.encode(text)</c>) on the same model: unknown
    /// runs, NFKC folding, whitespace collapsing (a literal ▁ counts as space), and float near-ties in digits.</summary>
    [Theory]
    [InlineData("a \u2581 b", new[] { 17, 3, 29 })]
    [InlineData("x  \u2581\u2581 y", new[] { 3, 86, 3, 38 })]
    [InlineData("\u3000a\u00a0b ", new[] { 17, 3, 29 })]
    [InlineData("100,000,000 and 10,000 or 2000000", new[] { 3, 418, 362, 297, 362, 77, 297, 23, 3, 418, 8, 77, 297, 110, 3, 20, 297, 297, 297 })]
    [InlineData("\uff21\uff22\uff23 \u00bd \ufb01 \u2122 \u2026 \u2460", new[] { 102, 234, 106, 288, 2, 20, 131, 15, 284, 152, 615, 288 })]
    [InlineData("\u00c9mile Zola\u2019s \u00abna\u00efve\u00bb caf\u00e9 \u2014 \u6771\u4eac \U0001f680\U0001f680", new[] { 3, 2, 26, 15, 99, 3, 661, 16, 226, 2, 6, 3, 2, 32, 12, 2, 213, 2, 177, 12, 37, 2, 3, 719, 3, 2, 3, 2 })]
    [InlineData("tab\there\r\nnewline", new[] { 3, 13, 12, 29, 3, 584, 629, 647 })]
    [InlineData("aaaaaaaaaa bbbbbbbb 0000000000", new[] { 17, 12, 12, 12, 12, 12, 12, 12, 12, 12, 3, 29, 29, 29, 29, 29, 29, 29, 29, 3, 297, 297, 297, 297, 297 })]
    public void Segmentation_matches_sentencepiece_on_hard_cases(string text, int[] expected) =>
        Assert.Equal([.. expected, 1], Tokenizer.EncodeUntruncated(text));

    /// <summary>Edge cases checked against Python's sentencepiece plus transformers' added-token split: blank
    /// text is just the EOS, a NUL is an unknown piece, a BOM vanishes, text around a literal special token is
    /// encoded separately (each part with its own dummy prefix).</summary>
    [Theory]
    [InlineData("   ", new[] { 1 })]
    [InlineData("\n", new[] { 1 })]
    [InlineData("\u200b", new[] { 1 })]
    [InlineData("\u0000", new[] { 3, 2, 1 })]
    [InlineData("\ufeffa", new[] { 17, 1 })]
    [InlineData("<pad> ", new[] { 0, 1 })]
    [InlineData(" </s>", new[] { 1 })]
    [InlineData("a </s> b", new[] { 17, 1, 3, 29, 1 })]
    public void Blank_control_and_special_token_edge_cases(string text, int[] expected) =>
        Assert.Equal(expected, Tokenizer.EncodeUntruncated(text));

    [Fact]
    public void The_loop_prompt_and_the_empty_negative_prompt_match_the_pipeline_inputs()
    {
        var loop = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz"));
        Assert.Equal(loop["input_ids_cond"].ToInt64s(), Tokenizer.Encode("A squirrel gathering nuts."));
        Assert.Equal(loop["input_ids_uncond"].ToInt64s(), Tokenizer.Encode(""));
    }

    [Fact]
    public void Special_tokens_are_ids_of_their_own_and_extra_ids_eat_surrounding_spaces()
    {
        Assert.Equal(0, Tokenizer.PadId);
        Assert.Equal(1, Tokenizer.EosId);
        Assert.Equal(2, Tokenizer.UnknownId);
        var plain = Tokenizer.EncodeUntruncated("nuts").ToArray();
        // "<extra_id_0>" is 1099 and strips the spaces on both sides, so each side is encoded as its own text.
        Assert.Equal([.. plain[..^1], 1099, .. plain[..^1], 1], Tokenizer.EncodeUntruncated("nuts   <extra_id_0>  nuts"));
        Assert.Equal([.. plain[..^1], 1090, 1], Tokenizer.EncodeUntruncated("nuts<extra_id_9>"));
        // A literal </s> at the end is the EOS: none is added after it.
        Assert.Equal([.. plain[..^1], 1], Tokenizer.EncodeUntruncated("nuts</s>"));
        Assert.Equal([0, 1], Tokenizer.EncodeUntruncated("<pad>"));
    }

    [Fact]
    public void Without_added_tokens_json_the_hundred_extra_ids_follow_the_vocabulary()
    {
        using var model = File.OpenRead(Path.Combine(Folder, "spiece.model"));
        var bare = T5Tokenizer.Create(model);
        Assert.Equal(Tokenizer.EncodeUntruncated("a <extra_id_0> b <extra_id_99>"), bare.EncodeUntruncated("a <extra_id_0> b <extra_id_99>"));
    }

    [Fact]
    public void Truncation_keeps_the_eos_in_the_last_position()
    {
        var ids = Tokenizer.Encode(Prompts()[4]);
        Assert.Equal(226, ids.Length);
        Assert.Equal(1, ids[225]);
        Assert.DoesNotContain(0L, ids);
        var short8 = Tokenizer.Encode("A squirrel gathering nuts.", 8);
        Assert.Equal(Tokenizer.EncodeUntruncated("A squirrel gathering nuts.").Take(7).Select(i => (long)i).Append(1L), short8);
    }

    [Fact]
    public void The_bos_patch_keeps_every_other_field_and_only_touches_models_without_a_bos()
    {
        var original = File.ReadAllBytes(Path.Combine(Folder, "spiece.model"));
        var patched = SentencePieceModelPatch.WithUsableBosId(original);
        Assert.NotEqual(original.Length, patched.Length);
        Assert.Same(patched, SentencePieceModelPatch.WithUsableBosId(patched));
    }

    [Fact]
    public void A_folder_without_a_model_or_a_broken_model_is_a_clear_error()
    {
        var dir = TestData.TempFolder();
        Assert.Contains("no spiece.model", Assert.Throws<FileNotFoundException>(() => T5Tokenizer.Load(dir)).Message);
        File.WriteAllBytes(Path.Combine(dir, "spiece.model"), [0xff, 0xff, 0xff]);
        Assert.Throws<InvalidDataException>(() => T5Tokenizer.Load(dir));
    }
}
