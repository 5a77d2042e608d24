package veil.spark.udf;

/** `veil_token(value STRING, key BINARY, scope STRING)`: see {@link Native#token}. */
public final class Token extends KeyedUdf {
    @Override
    String name() {
        return "veil_token";
    }

    @Override
    boolean scoped() {
        return true;
    }

    @Override
    byte[] call(byte[] key, byte[] scope, byte[] value) {
        return Native.token(key, scope, value);
    }
}
