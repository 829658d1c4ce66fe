

def test_tensorflow_start_up_noise_is_dropped_and_real_lines_kept(capfd):
    """Only the known banner lines go; anything else written to fd 2 comes through."""
    from model.backend import _filtered_stderr, IMPORT_NOISE

    with _filtered_stderr(IMPORT_NOISE):
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are ...\n")
        os.write(2, b"I0000 00:00:1796095081.319087    8376 port.cc:153] oneDNN custom "
                    b"operations are on. You may see slightly different numerical results\n")
        os.write(2, b"E0000 00:00:1.0 1 cuda.cc:1] a real error\n")
    err = capfd.readouterr().err
    assert err == "E0000 00:00:1.0 1 cuda.cc:1] a real error\n"


def test_keras_runtime_prints_no_tensorflow_banner(tmp_path):
    """The CLI on the Keras runtime (TensorFlow imported) answers with a clean stderr."""
    seven = tmp_path / "seven.png"
    drawn_digit(7).save(seven)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = python(env, "-m", "model.predict", str(seven), "--runtime", "keras", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["label"] == 7, r.stderr
    assert "oneDNN" not in r.stderr and "absl" not in r.stderr, r.stderr
    assert "UserWarning" not in r.stderr, r.stderr
