/* Configure: gather the raw form into the draft store in the browser (no server round trip per key).
   Inputs, in order: the strategy, the parameter rows, the factor-lag rows, then the simple fields
   (id "configure-<field-with-dashes>", SweepConfig's names with underscores; text, or a switch's bool);
   the draft is the state. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    configure: {
        gather: function() {
            const draft = arguments[arguments.length - 1];
            const inputs = dash_clientside.callback_context.inputs_list;
            const text = function(v) { return v == null ? "" : String(v); };
            const next = Object.assign({}, draft || {});
            const params = Object.assign({}, next.params || {});
            (inputs[1] || []).forEach(function(row) {
                const s = row.id.strategy;
                params[s] = Object.assign({}, params[s] || {});
                params[s][row.id.name] = text(row.value);
            });
            const lags = Object.assign({}, next.factor_lags || {});
            (inputs[2] || []).forEach(function(row) { lags[row.id.factor] = text(row.value); });
            next.strategy = inputs[0].value;
            next.params = params;
            next.factor_lags = lags;
            inputs.slice(3).forEach(function(input) {
                const name = input.id.replace(/^configure-/, "").replace(/-/g, "_");
                const v = input.value;
                if (typeof v === "boolean") { next[name] = v; return; }  // a switch: on or off
                if (v == null && typeof next[name] === "boolean") { return; }  // not shown yet: as drafted
                const empty = v == null || v === "" || (typeof v === "number" && isNaN(v));
                next[name] = empty ? null : (Array.isArray(v) ? v : String(v));
            });
            return next;
        }
    }
});
