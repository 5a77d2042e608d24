package veil.spark.udf;

/** `veil_hash(value STRING, key BINARY)`: see {@link Native#hash}. */
public final class Hash extends KeyedUdf {
    @Override
    String name() {
        return "veil_hash";
    }

    @Override
    boolean scoped() {
        return false;
    }

    @Override
    byte[] call(byte[] key, byte[] scope, byte[] value) {
        return Native.hash(key, value);
    }
}
