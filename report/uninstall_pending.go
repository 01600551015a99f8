package report

import (
	"time"

	"github.com/evtxscan/evtxscan/rules"
)

// uninstallSession mirrors uninstall.Session until package uninstall lands;
// then this file is replaced by an alias to it.
type uninstallSession struct {
	Product, Version, ProductCode, Package, Computer, User string
	Start, End                                             time.Time
	Outcome                                                string
	Status, StatusMeaning                                  string
	Cause                                                  string
	Events                                                 []rules.EventRef
}
