//go:build windows

package live

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// WindowsSecurity is the SecurityStore of the running system: it reads
// and sets NTFS security descriptors.
func WindowsSecurity() SecurityStore { return winSecurity{} }

type winSecurity struct{}

func (winSecurity) Descriptor(path string) (Descriptor, error) {
	var d Descriptor
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return d, err
	}
	attrs, err := windows.GetFileAttributes(p)
	if err != nil {
		return d, err
	}
	d.Reparse = attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return d, err
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return d, err
	}
	if owner != nil {
		d.Owner = owner.String()
	}
	control, _, err := sd.Control()
	if err != nil {
		return d, err
	}
	d.Protected = control&windows.SE_DACL_PROTECTED != 0
	dacl, _, err := sd.DACL()
	if errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) || (err == nil && dacl == nil) {
		d.NullDACL = true
		return d, nil
	}
	if err != nil {
		return d, err
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return d, err
		}
		e := ACE{Mask: uint32(ace.Mask), Flags: ace.Header.AceFlags}
		switch ace.Header.AceType {
		case windows.ACCESS_ALLOWED_ACE_TYPE, windows.ACCESS_DENIED_ACE_TYPE, accessAllowedCallbackACEType, accessDeniedCallbackACEType:
			// The SID follows the mask in these layouts.
			e.SID = (*windows.SID)(unsafe.Pointer(&ace.SidStart)).String()
			e.Allow = ace.Header.AceType == windows.ACCESS_ALLOWED_ACE_TYPE || ace.Header.AceType == accessAllowedCallbackACEType
		default:
			// Object ACEs and others never seen on files: counted as an
			// unknown grantee, so a check refuses rather than guesses.
			e.SID = fmt.Sprintf("(ACE type %d)", ace.Header.AceType)
			e.Allow = true
		}
		d.ACEs = append(d.ACEs, e)
	}
	return d, nil
}

// ACE types x/sys/windows does not name.
const (
	accessAllowedCallbackACEType = 9
	accessDeniedCallbackACEType  = 10
)

func (winSecurity) Protect(path string) error {
	sd, err := windows.SecurityDescriptorFromString(DataFolderSDDL)
	if err != nil {
		return err
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	return windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		owner, nil, dacl, nil)
}

func (winSecurity) CreateProtected(path string) error {
	sd, err := windows.SecurityDescriptorFromString(DataFolderSDDL)
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	sa := windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	err = windows.CreateDirectory(p, &sa)
	if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		return os.ErrExist
	}
	return err
}
