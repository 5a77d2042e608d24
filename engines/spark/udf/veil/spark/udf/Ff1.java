package veil.spark.udf;

/** `veil_ff1(value STRING, key BINARY, scope STRING)`: see {@link Native#ff1}. */
public final class Ff1 extends KeyedUdf {
    @Override
    String name() {
        return "veil_ff1";
    }

    @Override
    boolean scoped() {
        return true;
    }

    @Override
    byte[] call(byte[] key, byte[] scope, byte[] value) {
        return Native.ff1(key, scope, value);
    }
}
