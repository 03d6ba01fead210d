using Tora.Models.Checkpoints.Sat;

namespace Tora.Models.Tests;

/// <summary>The opcode walk that lists a pickle's globals before anything is unpickled.</summary>
public sealed class SatPickleScannerTests
{
    private static byte[] B(params object[] parts) => parts.SelectMany(p => p switch
    {
        string s => System.Text.Encoding.ASCII.GetBytes(s),
        byte b => [b],
        int i => [(byte)i],
        byte[] a => a,
        _ => throw new ArgumentException("part"),
    }).ToArray();

    [Fact]
    public void Protocol_2_globals_are_listed_once_in_order()
    {
        var pickle = B(0x80, 2, "ccollections\nOrderedDict\n", "q", 0, ")R", "ctorch._utils\n_rebuild_tensor_v2\n", "h", 0, ".");
        Assert.Equal(["collections.OrderedDict", "torch._utils._rebuild_tensor_v2"], PickleGlobalScanner.Globals(pickle));
    }

    [Fact]
    public void Protocol_4_stack_globals_are_resolved_also_through_the_memo()
    {
        // FRAME; SHORT_BINUNICODE 'posix' MEMOIZE; SHORT_BINUNICODE 'system' MEMOIZE; STACK_GLOBAL;
        // then the same names fetched back with BINGET 0, BINGET 1; STACK_GLOBAL; STOP.
        var pickle = B(0x80, 4, 0x95, new byte[8], 0x8c, 5, "posix", 0x94, 0x8c, 6, "system", 0x94, 0x93,
            0x8c, 2, "os", 0x94, "h", 1, 0x93, ".");
        Assert.Equal(["posix.system", "os.system"], PickleGlobalScanner.Globals(pickle));
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 2, 0x82, 1, (byte)'.' }, "extension registry")]
    [InlineData(new byte[] { 0x80, 2, 0xff, (byte)'.' }, "unknown pickle opcode 0xff")]
    [InlineData(new byte[] { 0x80, 2, (byte)'X', 10, 0, 0, 0, (byte)'a' }, "truncated")]
    [InlineData(new byte[] { 0x80, 2, (byte)'N' }, "without STOP")]
    [InlineData(new byte[] { 0x80, 4, (byte)'N', (byte)'N', 0x93, (byte)'.' }, "not literal strings")]
    public void Malformed_or_indirect_pickles_are_refused(byte[] pickle, string expected) =>
        Assert.Contains(expected, Assert.Throws<InvalidDataException>(() => PickleGlobalScanner.Globals(pickle)).Message);
}
