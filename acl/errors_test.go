package acl

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		err  *Error
		want string
	}{
		{&Error{Call: "aclrtMalloc", Code: ErrRTMemoryAllocation, Detail: "1024 bytes on device 0", Msg: "EL0004: Failed to allocate memory.\n"},
			"acl: aclrtMalloc: ACL_ERROR_RT_MEMORY_ALLOCATION (207001): 1024 bytes on device 0: EL0004: Failed to allocate memory."},
		{&Error{Op: "aclnnAdd", Call: "aclnnAddGetWorkspaceSize", Code: NNErrParamInvalid},
			"acl: aclnnAdd: aclnnAddGetWorkspaceSize: ACLNN_ERR_PARAM_INVALID (161002)"},
		{&Error{Op: "aclnnAdd", Call: "aclnnAdd", Code: NNErrInner},
			"acl: aclnnAdd: ACLNN_ERR_INNER (561000)"},
		{&Error{Call: "aclCreateTensor"}, "acl: aclCreateTensor: returned NULL"},
		{&Error{Call: "aclrtSetDevice", Code: 207999}, "acl: aclrtSetDevice: unnamed resource error (207999)"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("alloc: %w", &Error{Call: "aclrtMalloc", Code: ErrRTDeviceOOM})
	if !errors.Is(err, ErrRTDeviceOOM) || errors.Is(err, ErrRTMemoryAllocation) {
		t.Fatal("errors.Is does not match the code")
	}
	if !IsOutOfMemory(err) {
		t.Fatal("IsOutOfMemory false for ACL_ERROR_RT_DEVICE_OOM")
	}
	var e *Error
	if !errors.As(err, &e) || e.Call != "aclrtMalloc" {
		t.Fatal("errors.As")
	}
}

func TestCodeNames(t *testing.T) {
	for c, n := range codeNames {
		if c.String() != n {
			t.Errorf("%d: %s", c, c.String())
		}
		if !strings.HasPrefix(n, "ACL") {
			t.Errorf("%d: odd name %s", c, n)
		}
	}
	if Float32.String() != "ACL_FLOAT" || DataType(99).String() != "aclDataType(99)" {
		t.Error("DataType.String")
	}
	if BFloat16.Size() != 2 || Float64.Size() != 8 || Bool.Size() != 1 {
		t.Error("DataType.Size")
	}
	if FormatFor(4) != FormatNCHW || FormatFor(2) != FormatND || FormatFor(0) != FormatND {
		t.Error("FormatFor")
	}
}

func TestLoadErrorFormat(t *testing.T) {
	e := &LoadError{Library: "libascendcl.so", Searched: []string{"/a/lib64", "/a/x86_64-linux/lib64", defaultSearchPath},
		Hint: "install the CANN toolkit or set ASCEND_TOOLKIT_HOME (source set_env.sh)"}
	want := "acl: libascendcl.so not found in /a/lib64, /a/x86_64-linux/lib64, the default library search path: install the CANN toolkit or set ASCEND_TOOLKIT_HOME (source set_env.sh)"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	e = &LoadError{Library: "libascendcl.so", Symbol: "aclFinalize", Path: "/d/libascendcl.so", Reason: "undefined symbol: aclFinalize"}
	if got := e.Error(); !strings.Contains(got, "symbol aclFinalize not found in /d/libascendcl.so") {
		t.Errorf("got %q", got)
	}
}

func TestSearchPlan(t *testing.T) {
	env := map[string]string{EnvToolkitHome: "/opt/cann"}
	p := planFromEnv(func(k string) string { return env[k] })
	want := []string{"/opt/cann/lib64", "/opt/cann/" + archDir() + "-linux/lib64",
		DefaultToolkitHome + "/lib64", DefaultToolkitHome + "/" + archDir() + "-linux/lib64"}
	if fmt.Sprint(p.dirs) != fmt.Sprint(want) || !p.useDefault {
		t.Errorf("dirs %v, want %v", p.dirs, want)
	}
	env[EnvToolkitHome] = DefaultToolkitHome
	if p := planFromEnv(func(k string) string { return env[k] }); len(p.dirs) != 2 {
		t.Errorf("duplicates: %v", p.dirs)
	}
	env[EnvLibDir] = "/tmp/x"
	p = planFromEnv(func(k string) string { return env[k] })
	if fmt.Sprint(p.dirs) != "[/tmp/x]" || p.useDefault || !strings.Contains(p.hint(), EnvLibDir) {
		t.Errorf("override: %+v", p)
	}
}
