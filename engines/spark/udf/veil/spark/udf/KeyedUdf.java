package veil.spark.udf;

import java.util.Arrays;

import org.apache.hadoop.hive.ql.exec.UDFArgumentException;
import org.apache.hadoop.hive.ql.metadata.HiveException;
import org.apache.hadoop.hive.ql.udf.generic.GenericUDF;
import org.apache.hadoop.hive.serde2.objectinspector.ObjectInspector;
import org.apache.hadoop.hive.serde2.objectinspector.PrimitiveObjectInspector;
import org.apache.hadoop.hive.serde2.objectinspector.PrimitiveObjectInspector.PrimitiveCategory;
import org.apache.hadoop.hive.serde2.objectinspector.primitive.BinaryObjectInspector;
import org.apache.hadoop.hive.serde2.objectinspector.primitive.PrimitiveObjectInspectorFactory;
import org.apache.hadoop.hive.serde2.objectinspector.primitive.StringObjectInspector;
import org.apache.hadoop.io.Text;

/**
 * A veil function over (value STRING, key BINARY[, scope STRING]) returning STRING:
 * NULL in, NULL out; a NULL key or scope is an error (a missing key never shows the
 * value).
 */
abstract class KeyedUdf extends GenericUDF {
    private transient ObjectInspector[] inputs;

    /** SQL name, for messages. */
    abstract String name();

    /** Whether the third argument (the scope) is taken. */
    abstract boolean scoped();

    /** The native call. */
    abstract byte[] call(byte[] key, byte[] scope, byte[] value);

    @Override
    public ObjectInspector initialize(ObjectInspector[] arguments) throws UDFArgumentException {
        int arity = scoped() ? 3 : 2;
        if (arguments.length != arity) {
            throw new UDFArgumentException(name() + " takes " + arity + " arguments: (value STRING, key BINARY"
                + (scoped() ? ", scope STRING)" : ")"));
        }
        for (int i = 0; i < arity; i++) {
            PrimitiveCategory want = i == 1 ? PrimitiveCategory.BINARY : PrimitiveCategory.STRING;
            // VOID: a NULL literal, refused when evaluated (a missing key never shows the value).
            PrimitiveCategory got = arguments[i] instanceof PrimitiveObjectInspector
                ? ((PrimitiveObjectInspector) arguments[i]).getPrimitiveCategory() : null;
            if (got != want && !(i > 0 && got == PrimitiveCategory.VOID)) {
                throw new UDFArgumentException(name() + ": argument " + (i + 1) + " must be " + want);
            }
        }
        inputs = arguments;
        return PrimitiveObjectInspectorFactory.writableStringObjectInspector;
    }

    private byte[] text(int i, Object o) {
        Text t = ((StringObjectInspector) inputs[i]).getPrimitiveWritableObject(o);
        return Arrays.copyOf(t.getBytes(), t.getLength());
    }

    @Override
    public Object evaluate(DeferredObject[] arguments) throws HiveException {
        Object value = arguments[0].get();
        if (value == null) {
            return null;
        }
        Object key = arguments[1].get();
        Object scope = scoped() ? arguments[2].get() : null;
        if (key == null || (scoped() && scope == null)) {
            throw new HiveException("veil: " + name() + " has no key (is it in veil.keys?); the value is not shown");
        }
        byte[] keyBytes = ((BinaryObjectInspector) inputs[1]).getPrimitiveJavaObject(key);
        try {
            return new Text(call(keyBytes, scoped() ? text(2, scope) : new byte[0], text(0, value)));
        } catch (IllegalArgumentException e) {
            throw new HiveException(e.getMessage());
        }
    }

    @Override
    public String getDisplayString(String[] children) {
        return getStandardDisplayString(name(), children);
    }
}
